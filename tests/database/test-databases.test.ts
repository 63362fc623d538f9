import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

describe("createTestDatabase", () => {
  let first: TestDatabase;
  let second: TestDatabase;
  let firstPool: pg.Pool;
  let secondPool: pg.Pool;

  beforeAll(async () => {
    [first, second] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    firstPool = new pg.Pool({ connectionString: first.url, max: 3 });
    secondPool = new pg.Pool({ connectionString: second.url, max: 3 });
  });

  afterAll(async () => {
    await Promise.all([firstPool?.end(), secondPool?.end()]);
    await Promise.all([first?.close(), second?.close()]);
  });

  it("gives migrated, empty databases", async () => {
    for (const pool of [firstPool, secondPool]) {
      const { rows } = await pool.query<{ count: string }>("SELECT count(*) FROM products");
      expect(rows[0]?.count).toBe("0");
      const migrations = await pool.query("SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL");
      expect(migrations.rowCount).toBeGreaterThan(0);
    }
  });

  it("gives independent databases", async () => {
    await firstPool.query("INSERT INTO products (name, name_key, price, stock, updated_at) VALUES ('Tea', 'tea', 2.5, 10, now())");
    const inFirst = await firstPool.query("SELECT name FROM products");
    const inSecond = await secondPool.query("SELECT name FROM products");
    expect(inFirst.rows).toEqual([{ name: "Tea" }]);
    expect(inSecond.rows).toEqual([]);
  });

  it("serves several pooled connections at once", async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => firstPool.query<{ n: number }>("SELECT $1::int AS n, pg_sleep(0.01)", [i])));
    expect(results.map((result) => result.rows[0]?.n)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it("supports the pg_trgm index", async () => {
    const { rows } = await firstPool.query("SELECT name FROM products WHERE name % 'Tee' OR name ILIKE '%te%'");
    expect(rows).toEqual([{ name: "Tea" }]);
  });
});
