import { applyMigrations } from "../db/migrations.js";
import { checkDatabaseReachable } from "./checks.js";

/** What a migration run did, for a person: the migrations applied to `target`, or that it was up to date. */
export function describeApplied(applied: string[], target: string): string {
  return applied.length ? `Applied to ${target}:\n${applied.map((name) => `  ${name}`).join("\n")}` : `${target}: already up to date.`;
}

/**
 * Brings DATABASE_URL's schema up to date (`server.js --migrate`, which `make run` uses, after the
 * port check; `npm run migrate` otherwise): one line when it cannot connect, else what it applied.
 */
export async function migrateDatabaseUrl(url: string): Promise<string> {
  await checkDatabaseReachable(url);
  return describeApplied(await applyMigrations(url), "DATABASE_URL");
}
