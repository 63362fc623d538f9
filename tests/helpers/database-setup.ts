// What tests/global-setup.ts hands to the test files, and server-side database helpers.
// No runtime import of vitest here: global setup runs outside the test workers.
import pg from "pg";
import type {} from "vitest";

export type TestDatabaseSetup =
  | { kind: "pglite"; emptyDump: string; migratedDump: string }
  | {
      kind: "postgres";
      serverUrl: string;
      template: string;
      /** The server through PgBouncer in transaction mode (TEST_POOLER=pgbouncer): apps connect there. */
      poolerUrl?: string;
    };

declare module "vitest" {
  export interface ProvidedContext {
    testDatabase: TestDatabaseSetup;
  }
}

export function testDatabaseKind(env: NodeJS.ProcessEnv = process.env): TestDatabaseSetup["kind"] {
  const kind = env.TEST_DB ?? "pglite";
  if (kind !== "pglite" && kind !== "postgres") throw new Error(`TEST_DB must be "pglite" or "postgres", not "${kind}"`);
  return kind;
}

export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function createDatabase(serverUrl: string, name: string, template = "template0"): Promise<void> {
  await onServer(serverUrl, `CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`);
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await onServer(serverUrl, `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}

export async function onServer(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
