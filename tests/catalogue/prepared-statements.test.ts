// The catalogue's reads are prepared once per connection (DB_PREPARED_STATEMENTS, on by default)
// and reused, except where one shared plan would not fit every value (keywords shorter than
// three characters, pages deeper than 10,000); with the setting off nothing is prepared. One
// pooled connection, so the statements seen are the ones the requests ran on. Which products a
// page holds is reused until the products change (src/catalogue/page-cache.ts): each page here is
// read after its cache was dropped, as after a write, so that its statement runs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";

interface PreparedStatement {
  name: string;
  statement: string;
  executions: number;
}

async function preparedCatalogueReads(t: TestApp): Promise<PreparedStatement[]> {
  // On the embedded database every connection's statements are in the one session, under that
  // connection's prefix; on PostgreSQL, this connection's alone.
  const { rows } = await t.database.pool.query<PreparedStatement>(
    "SELECT name, statement, (generic_plans + custom_plans)::int AS executions FROM pg_prepared_statements WHERE name LIKE '%catalogue\\_%' AND statement LIKE '%FROM products%'",
  );
  return rows;
}

async function readCatalogue(t: TestApp, token: string, id: number, name: string) {
  const byId = await t.request({ url: `/api/product/${id}`, token });
  expect(byId.statusCode).toBe(200);
  expect(byId.json()).toMatchObject({ id, name });
  for (const keyword of ["tea", "te", "te", "te"]) {
    t.app.catalogue.products.invalidateLists();
    const page = await t.request({ url: `/api/product/?keyword=${keyword}&limit=5`, token });
    expect(page.statusCode).toBe(200);
    expect(page.json()).toMatchObject({ count: 1, results: [{ id, name }] });
  }
}

describe("with prepared statements (the default)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ DB_POOL_MAX: 1 });
  }, 60_000);
  afterAll(() => t?.close());

  it("prepares a product read and a keyword page once and reuses them; a short keyword is planned for itself", async () => {
    const token = await t.adminToken();
    const product = await createProduct(viaApp(t), token, { name: "Prepared green tea" });
    await readCatalogue(t, token, product.id, product.name);
    await readCatalogue(t, token, product.id, product.name);
    const statements = await preparedCatalogueReads(t);
    const byId = statements.filter((s) => s.statement.includes("WHERE id = ANY($1::int[])"));
    expect(byId).toHaveLength(1);
    expect(byId[0]!.executions).toBe(2);
    // The page for "tea" twice; the three "te" pages of each round were not run on it.
    const keywordPages = statements.filter((s) => s.statement.includes("ILIKE") && s.statement.includes("LIMIT"));
    expect(keywordPages).toHaveLength(1);
    expect(keywordPages[0]!.executions).toBe(2);
  });

  it("plans a page deeper than 10,000 for its own offset", async () => {
    const token = await t.adminToken();
    const unfilteredPages = async () =>
      (await preparedCatalogueReads(t)).filter((s) => !s.statement.includes("ILIKE") && s.statement.includes("OFFSET")).map((s) => s.executions);
    for (const offset of [0, 10_000, 10_001, 50_000]) {
      t.app.catalogue.products.invalidateLists();
      const page = await t.request({ url: `/api/product/?limit=5&offset=${offset}`, token });
      expect(page.statusCode).toBe(200);
      expect(page.json()).toMatchObject({ results: offset === 0 ? [expect.objectContaining({ name: "Prepared green tea" })] : [] });
    }
    expect(await unfilteredPages()).toEqual([2]);
  });
});

describe("with DB_PREPARED_STATEMENTS=false", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ DB_POOL_MAX: 1, DB_PREPARED_STATEMENTS: false });
  }, 60_000);
  afterAll(() => t?.close());

  it("answers the same and prepares nothing", async () => {
    const token = await t.adminToken();
    const before = (await preparedCatalogueReads(t)).length;
    const product = await createProduct(viaApp(t), token, { name: "Unprepared green tea" });
    await readCatalogue(t, token, product.id, product.name);
    expect(await preparedCatalogueReads(t)).toHaveLength(before);
  });
});
