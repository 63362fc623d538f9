// Usage: npm run migrate
// Applies prisma/migrations to DATABASE_URL, or to the embedded database in .data/pglite.
import { startEmbeddedPostgres } from "../src/db/embedded.js";
import { applyMigrations } from "../src/db/migrations.js";

const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres({ dataDir: ".data/pglite" });
try {
  const applied = await applyMigrations(process.env.DATABASE_URL ?? embedded!.url);
  const target = embedded ? "the embedded database (.data/pglite)" : "DATABASE_URL";
  console.log(applied.length ? `Applied to ${target}:\n${applied.map((name) => `  ${name}`).join("\n")}` : `${target}: already up to date.`);
} finally {
  await embedded?.close();
}
