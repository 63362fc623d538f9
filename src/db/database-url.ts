import { join } from "node:path";
import type { Config } from "../config.js";
import { startEmbeddedPostgres } from "./embedded.js";

export interface DatabaseLocation {
  url: string;
  embedded: boolean;
  /** Stops the embedded database, if this process started one. */
  close(): Promise<void>;
}

/** DATABASE_URL when set; otherwise the embedded PostgreSQL persisted under DATA_DIR. */
export async function resolveDatabase(config: Config): Promise<DatabaseLocation> {
  if (config.DATABASE_URL) {
    return { url: config.DATABASE_URL, embedded: false, close: async () => {} };
  }
  const embedded = await startEmbeddedPostgres({ dataDir: join(config.DATA_DIR, "pglite") });
  return { url: embedded.url, embedded: true, close: () => embedded.close() };
}
