// Test databases. TEST_DB=pglite (default) or postgres; tests/global-setup.ts prepares a
// migrated template once per run, and every createTestDatabase() is a copy of it:
// - pglite: a new in-memory PGlite loaded from a dump of the template's data directory
//   (about 0.5 s, against 2-3 s for a fresh initdb plus migrations);
// - postgres: CREATE DATABASE … TEMPLATE on the server (TEST_DATABASE_URL or a throwaway cluster).
import { readFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import type { DatabaseWaits } from "../../src/infra/db/client.js";
import { EMBEDDED_WAITS } from "../../src/infra/db/database-url.js";
import { startEmbeddedPostgres } from "../../src/infra/db/embedded.js";
import { createDatabase, databaseUrl, dropDatabase } from "./database-setup.js";

export interface TestDatabase {
  url: string;
  /** The waits the service uses on this kind of database. */
  waits: DatabaseWaits;
  /** PGlite: one statement at a time for every connection, as the service's embedded database. */
  oneStatementAtATime?: boolean;
  /**
   * What the service must be told to run on `url`: through a transaction-mode pooler
   * (TEST_POOLER=pgbouncer), no named statements and the coordination connection direct.
   */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A new database of its own, with all migrations applied and no rows. */
export function createTestDatabase(): Promise<TestDatabase> {
  return copyDatabase("migrated");
}

/** A new database without any migration applied (for migration tests). */
export function createEmptyDatabase(): Promise<TestDatabase> {
  return copyDatabase("empty");
}

async function copyDatabase(state: "empty" | "migrated"): Promise<TestDatabase> {
  const setup = inject("testDatabase");
  if (!setup) throw new Error("No test database setup: run the tests with vitest.config.ts (globalSetup tests/global-setup.ts)");
  if (setup.kind === "pglite") {
    const dump = await readFile(state === "migrated" ? setup.migratedDump : setup.emptyDump);
    const db = await startEmbeddedPostgres({ loadDataDir: new Blob([dump]) });
    return { url: db.url, waits: EMBEDDED_WAITS, oneStatementAtATime: true, env: {}, close: () => db.close() };
  }
  const name = `test_${randomBytes(6).toString("hex")}`;
  await createDatabase(setup.serverUrl, name, state === "migrated" ? setup.template : "template0");
  const url = databaseUrl(setup.serverUrl, name);
  const close = () => dropDatabase(setup.serverUrl, name);
  if (!setup.poolerUrl) return { url, waits: {}, env: {}, close };
  return { url: databaseUrl(setup.poolerUrl, name), waits: {}, env: { DB_PREPARED_STATEMENTS: "false", COORDINATION_DATABASE_URL: url }, close };
}
