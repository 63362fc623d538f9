// Usage: npm run migrate
// Applies prisma/migrations to DATABASE_URL, or to the embedded database in $DATA_DIR/pglite
// (.data/pglite by default). A failure ends in one line saying what to do, and exit code 1.
import { join } from "node:path";
import { startMigratedEmbedded } from "../src/infra/db/embedded-migrated.js";
import { exitWithStartupFailure } from "../src/infra/startup/failure.js";
import { describeApplied, migrateDatabaseUrl } from "../src/infra/startup/migrate.js";

const url = process.env.DATABASE_URL || undefined;
const dataDir = join(process.env.DATA_DIR || ".data", "pglite");
try {
  if (url) console.log(await migrateDatabaseUrl(url));
  else {
    const { embedded, applied, notice } = await startMigratedEmbedded(dataDir);
    await embedded.close();
    if (notice) console.log(notice);
    console.log(describeApplied(applied, `the embedded database (${dataDir})`));
  }
} catch (error) {
  exitWithStartupFailure(error);
}
