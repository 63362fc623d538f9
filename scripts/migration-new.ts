// Usage: npm run migration:new -- <name>
// Writes prisma/migrations/<timestamp>_<name>/migration.sql from the diff between the schema the
// migrations produce (prisma/migrations/schema.prisma.snapshot) and prisma/schema.prisma,
// then updates the snapshot.
import { join, relative } from "node:path";
import { createMigration, MIGRATIONS_DIR } from "../src/infra/db/migrations.js";

const name = process.argv[2];
if (!name || process.argv.length > 3) {
  console.error("Usage: npm run migration:new -- <name>");
  process.exit(2);
}

try {
  const migration = await createMigration(name);
  if (migration.name === null) {
    console.error("prisma/schema.prisma has no changes since the last migration: nothing to write.");
    process.exit(1);
  }
  console.log(`Wrote ${relative(process.cwd(), join(MIGRATIONS_DIR, migration.name, "migration.sql"))}:\n\n${migration.script}`);
} catch (error) {
  console.error(`migration:new failed: ${(error as Error).message}`);
  process.exit(1);
}
