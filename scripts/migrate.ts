// Usage: npm run migrate
// Applies prisma/migrations to DATABASE_URL, or to the embedded database in $DATA_DIR/pglite
// (.data/pglite by default). A failure ends in one line saying what to do, and exit code 1.
import { join } from "node:path";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../src/infra/db/embedded.js";
import { applyMigrations } from "../src/infra/db/migrations.js";
import { checkDatabaseReachable, embeddedFailure } from "../src/infra/startup/checks.js";
import { exitWithStartupFailure } from "../src/infra/startup/failure.js";

const url = process.env.DATABASE_URL || undefined;
const dataDir = join(process.env.DATA_DIR || ".data", "pglite");
try {
  let embedded: EmbeddedPostgres | undefined;
  if (url) await checkDatabaseReachable(url);
  else embedded = await startEmbeddedPostgres({ dataDir }).catch((error: unknown) => Promise.reject(embeddedFailure(error, dataDir)));
  try {
    const applied = await applyMigrations(url ?? embedded!.url);
    const target = embedded ? `the embedded database (${dataDir})` : "DATABASE_URL";
    console.log(applied.length ? `Applied to ${target}:\n${applied.map((name) => `  ${name}`).join("\n")}` : `${target}: already up to date.`);
  } finally {
    await embedded?.close();
  }
} catch (error) {
  exitWithStartupFailure(error);
}
