// Usage: npm run migrate
// Applies prisma/migrations to DATABASE_URL, or to the embedded database in $DATA_DIR/pglite
// (.data/pglite by default). A failure ends in one line saying what to do, and exit code 1.
import { join } from "node:path";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../src/infra/db/embedded.js";
import { applyMigrations } from "../src/infra/db/migrations.js";
import { embeddedFailure } from "../src/infra/startup/checks.js";
import { exitWithStartupFailure } from "../src/infra/startup/failure.js";
import { describeApplied, migrateDatabaseUrl } from "../src/infra/startup/migrate.js";

const url = process.env.DATABASE_URL || undefined;
const dataDir = join(process.env.DATA_DIR || ".data", "pglite");
try {
  if (url) console.log(await migrateDatabaseUrl(url));
  else {
    // A new database is migrated as part of its creation (see startEmbeddedPostgres).
    let applied: string[] | undefined;
    let migrationFailure: unknown;
    const prepareNew = async (embeddedUrl: string) => {
      applied = await applyMigrations(embeddedUrl).catch((error: unknown) => Promise.reject((migrationFailure = error)));
    };
    const embedded: EmbeddedPostgres = await startEmbeddedPostgres({ dataDir, prepareNew }).catch((error: unknown) =>
      Promise.reject(error === migrationFailure ? error : embeddedFailure(error, dataDir)),
    );
    try {
      if (embedded.recreated) console.log(`An earlier start was stopped while it created the embedded database in ${dataDir}: created it again`);
      console.log(describeApplied(applied ?? (await applyMigrations(embedded.url)), `the embedded database (${dataDir})`));
    } finally {
      await embedded.close();
    }
  }
} catch (error) {
  exitWithStartupFailure(error);
}
