import { embeddedFailure } from "../startup/checks.js";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embedded.js";
import { applyMigrations } from "./migrations.js";

/** The migrations failed (`cause`): told apart from a data directory that does not open. */
class MigrationFailed extends Error {}

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
 * stopped during its migrations is redone whole), an existing one once it is open. The server,
 * `npm run migrate` and scripts/create-admin.ts start it so. A failed migration is reported as
 * its own error; any other failure as the data directory's (a StartupError saying what to do).
 */
export async function startMigratedEmbedded(dataDir: string, onFailure?: (error: Error) => void): Promise<MigratedEmbedded> {
  let applied: string[] | undefined;
  try {
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
  } catch (error) {
    throw error instanceof MigrationFailed ? error.cause : embeddedFailure(error, dataDir);
  }
}
