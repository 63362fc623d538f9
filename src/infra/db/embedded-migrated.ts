import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embedded.js";
import { applyMigrations } from "./migrations.js";

/** The migrations failed (`cause`): reported as a failed migration is, not as a data directory that does not open. */
export class MigrationFailed extends Error {}

export interface MigratedEmbedded {
  embedded: EmbeddedPostgres;
  /** The migrations this start applied (empty when the database was up to date). */
  applied: string[];
  /** Said when an earlier start was stopped while it created this database, and this one created it again. */
  notice?: string;
}

const migrate = (url: string) =>
  applyMigrations(url).catch((cause: unknown) => {
    throw new MigrationFailed("applying the migrations failed", { cause });
  });

/**
 * The embedded database in `dataDir`, migrated: a new one as part of its creation (a first start
 * stopped during its migrations is redone whole), an existing one once it is open. The server and
 * `npm run migrate` both start it so.
 */
export async function startMigratedEmbedded(dataDir: string, onFailure?: (error: Error) => void): Promise<MigratedEmbedded> {
  let applied: string[] | undefined;
  const embedded = await startEmbeddedPostgres({ dataDir, onFailure, prepareNew: async (url) => void (applied = await migrate(url)) });
  try {
    applied ??= await migrate(embedded.url);
  } catch (error) {
    await embedded.close();
    throw error;
  }
  return {
    embedded,
    applied,
    ...(embedded.recreated ? { notice: `an earlier start was stopped while it created the embedded database in ${dataDir}: created it again` } : {}),
  };
}
