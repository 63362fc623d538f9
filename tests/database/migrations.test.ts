// prisma/migrations must build exactly the schema of prisma/schema.prisma: editing the schema
// without `npm run migration:new -- <name>` fails here.
import { readFile } from "node:fs/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, diffSchemas, isEmptyMigration, readMigrations, SCHEMA_FILE, SNAPSHOT_FILE } from "../../src/infra/db/migrations.js";
import { describeSchema } from "../../src/infra/db/schema-description.js";
import { createEmptyDatabase, type TestDatabase } from "../helpers/database.js";

describe("migrations", () => {
  let migrated: TestDatabase;
  let fromSchema: TestDatabase;
  let schema: string;
  let applied: string[];

  beforeAll(async () => {
    [migrated, fromSchema, schema] = await Promise.all([createEmptyDatabase(), createEmptyDatabase(), readFile(SCHEMA_FILE, "utf8")]);
    applied = await applyMigrations(migrated.url);
  });

  afterAll(async () => {
    await Promise.all([migrated?.close(), fromSchema?.close()]);
  });

  it("apply every migration folder, in order", async () => {
    const folders = (await readMigrations()).migrationDirectories.map((dir) => dir.path);
    expect(folders.length).toBeGreaterThan(0);
    expect(applied).toEqual(folders);
  });

  it("build the schema of prisma/schema.prisma (else: npm run migration:new -- <name>)", async () => {
    const client = new pg.Client({ connectionString: fromSchema.url });
    await client.connect();
    try {
      await client.query(await diffSchemas(null, schema));
    } finally {
      await client.end();
    }
    expect(await describeSchema(migrated.url)).toBe(await describeSchema(fromSchema.url));
  });

  it("keep the snapshot used by migration:new in step with prisma/schema.prisma", async () => {
    const pending = await diffSchemas(await readFile(SNAPSHOT_FILE, "utf8"), schema);
    expect(isEmptyMigration(pending) ? "" : pending, "schema.prisma changed since the last migration").toBe("");
  });

  it("are idempotent and recorded in _prisma_migrations", async () => {
    expect(await applyMigrations(migrated.url)).toEqual([]);
    const client = new pg.Client({ connectionString: migrated.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        "SELECT migration_name, finished_at, rolled_back_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name",
      );
      expect(rows.map((row) => row.migration_name)).toEqual(applied);
      for (const row of rows) {
        expect(row.finished_at).not.toBeNull();
        expect(row.rolled_back_at).toBeNull();
        expect(row.applied_steps_count).toBe(1);
      }
    } finally {
      await client.end();
    }
  });
});
