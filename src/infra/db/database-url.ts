import { join } from "node:path";
import type { Config } from "../config.js";
import type { DatabaseWaits } from "./client.js";
import { startEmbeddedPostgres } from "./embedded.js";
import { applyMigrations } from "./migrations.js";

export interface DatabaseLocation {
  url: string;
  embedded: boolean;
  /** The database runs one statement at a time for every connection (the embedded one). */
  oneStatementAtATime: boolean;
  /** Waits suited to this database, for createDatabaseClient. */
  waits: DatabaseWaits;
  /** Stops the embedded database, if this process started one. */
  close(): Promise<void>;
  /** Something about the start an operator should hear of (the embedded database created again). */
  notice?: string;
  /** The embedded database was created by this start and migrated as part of it. */
  migrated?: boolean;
}

/**
 * The embedded database runs one batch at a time for all connections, so under load work queues
 * for it as for a lock; it cannot be "away", so a long wait is load, not an outage.
 */
export const EMBEDDED_WAITS: DatabaseWaits = { acquireTimeoutMs: 60_000, connectTimeoutMs: 60_000 };

/** A new embedded database's migrations failed (`cause`): the migrations' failure, not the data directory's. */
export class NewDatabaseMigrationFailed extends Error {}

/**
 * DATABASE_URL when set; otherwise the embedded PostgreSQL persisted under DATA_DIR, whose
 * failure after start (its thread ended) is told to `onEmbeddedFailure`.
 */
export async function resolveDatabase(config: Config, onEmbeddedFailure?: (error: Error) => void): Promise<DatabaseLocation> {
  if (config.DATABASE_URL) {
    return { url: config.DATABASE_URL, embedded: false, oneStatementAtATime: false, waits: {}, close: async () => {} };
  }
  const dataDir = join(config.DATA_DIR, "pglite");
  // A new database is migrated as part of its creation: a first start stopped during the migrations is redone whole.
  const embedded = await startEmbeddedPostgres({ dataDir, onFailure: onEmbeddedFailure, prepareNew: migrateNew });
  return {
    url: embedded.url,
    embedded: true,
    oneStatementAtATime: true,
    waits: EMBEDDED_WAITS,
    close: () => embedded.close(),
    migrated: embedded.prepared,
    ...(embedded.recreated ? { notice: `an earlier start was stopped while it created the embedded database in ${dataDir}: created it again` } : {}),
  };
}

async function migrateNew(url: string): Promise<void> {
  await applyMigrations(url).catch((cause: unknown) => {
    throw new NewDatabaseMigrationFailed("migrating the new embedded database failed", { cause });
  });
}
