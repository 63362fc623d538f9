import { join } from "node:path";
import type { Config } from "../config.js";
import type { DatabaseWaits } from "./client.js";
import { startMigratedEmbedded } from "./embedded-migrated.js";

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
}

/**
 * The embedded database runs one batch at a time for all connections, so under load work queues
 * for it as for a lock; it cannot be "away", so a long wait is load, not an outage.
 */
export const EMBEDDED_WAITS: DatabaseWaits = { acquireTimeoutMs: 60_000, connectTimeoutMs: 60_000 };

/**
 * DATABASE_URL when set; otherwise the embedded PostgreSQL persisted under DATA_DIR, migrated,
 * whose failure after start (its thread ended) is told to `onEmbeddedFailure`.
 */
export async function resolveDatabase(config: Config, onEmbeddedFailure?: (error: Error) => void): Promise<DatabaseLocation> {
  if (config.DATABASE_URL) {
    return { url: config.DATABASE_URL, embedded: false, oneStatementAtATime: false, waits: {}, close: async () => {} };
  }
  const { embedded, notice } = await startMigratedEmbedded(join(config.DATA_DIR, "pglite"), onEmbeddedFailure);
  return {
    url: embedded.url,
    embedded: true,
    oneStatementAtATime: true,
    waits: EMBEDDED_WAITS,
    close: () => embedded.close(),
    ...(notice ? { notice } : {}),
  };
}
