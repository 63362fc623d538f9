// Concurrent reads of products by id share one statement (src/catalogue/coalesced-reads.ts). Each
// read still gets exactly its own product (an unknown id a 404), a read never joins a statement
// sent before it was asked for (so a write that finished before it is always seen), and a failed
// statement fails every read it served and nothing after it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlRunner } from "../../src/infra/db/client.js";
import { MAX_COALESCED_KEYS } from "../../src/catalogue/coalesced-reads.js";
import { ProductsRepository } from "../../src/catalogue/products-repository.js";
import { toProductBody } from "../../src/catalogue/handlers.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { assertMatchesSpec } from "../helpers/contract.js";
import { send } from "../helpers/http-client.js";

const PRODUCTS = 120;
const USERS = 10;
const READS_PER_USER = 40;

interface Row {
  id: number;
  name: string;
  price: string;
  stock: number;
  version: number;
}

let t: TestApp;
let rows: Row[];
const missingId = 2_000_000_000;

beforeAll(async () => {
  t = await startTestApp({ DB_POOL_MAX: 5 });
  ({ rows } = await t.database.pool.query<Row>(
    `INSERT INTO products (name, name_key, price, stock, updated_at)
     SELECT 'Coalesced ' || g, 'coalesced ' || g, (g * 1.25)::numeric(10,3), g, now() FROM generate_series(1, ${PRODUCTS}) g
     RETURNING id, name, price::text AS price, stock, version`,
  ));
});
afterAll(() => t?.close());

/** Statements run and reads served so far, from the db_coalesced_reads histogram. */
async function coalescing(): Promise<{ statements: number; reads: number }> {
  const metric = await t.app.serviceMetrics.registry.getSingleMetric("db_coalesced_reads")!.get();
  const value = (name: string) => metric.values.find((v) => (v as { metricName?: string }).metricName === name)?.value ?? 0;
  return { statements: value("db_coalesced_reads_count"), reads: value("db_coalesced_reads_sum") };
}

describe("product reads by id", () => {
  it("asked for at once share one statement per hundred, each with its own row", async () => {
    const products = t.app.catalogue.products;
    // Every product, one twice, an id that does not exist and two that no row can have (which
    // must not fail the statement the others share): 124 reads, asked in one go.
    const ids = [...rows.map((r) => r.id), rows[7]!.id, missingId, 2 ** 31, 1.5];
    const before = await coalescing();
    const found = await Promise.all(ids.map((id) => products.findById(id)));
    const after = await coalescing();

    expect(after.statements - before.statements).toBe(Math.ceil(ids.length / MAX_COALESCED_KEYS));
    expect(after.reads - before.reads).toBe(ids.length);
    const fields = (row: (Pick<Row, "id" | "name" | "stock" | "version"> & { price: unknown }) | null) =>
      row && { id: row.id, name: row.name, price: String(row.price), stock: row.stock, version: row.version };
    expect(found.map(fields)).toEqual([...rows, rows[7]!, null, null, null].map(fields));
  });

  it(`from ${USERS} users at once over TCP: every answer is the product asked for`, async () => {
    const baseUrl = await t.app.listen({ host: "127.0.0.1", port: 0 });
    const users = await Promise.all(Array.from({ length: USERS }, () => t.createUser()));
    const byId = new Map(rows.map((r) => [r.id, r]));
    const calls = users.flatMap((user, u) =>
      Array.from({ length: READS_PER_USER }, (_, i) => {
        // Each user its own mix of products, and now and then an id that does not exist.
        const id = i % 13 === 5 ? missingId + u : rows[(u * 17 + i * 7) % rows.length]!.id;
        return { id, token: user.access };
      }),
    );
    const before = await coalescing();
    const answers = await Promise.all(calls.map(({ id, token }) => send(baseUrl, { method: "GET", path: `/api/product/${id}`, token })));
    const after = await coalescing();

    answers.forEach((answer, i) => {
      const { id } = calls[i]!;
      assertMatchesSpec("GET", `/api/product/${id}`, answer);
      const row = byId.get(id);
      if (!row) {
        expect(answer.statusCode).toBe(404);
        expect(answer.json()).toMatchObject({ code: "not-found" });
        return;
      }
      expect(answer.statusCode).toBe(200);
      expect(answer.json()).toEqual({
        id,
        name: row.name,
        price: row.price,
        stock: row.stock,
        created_at: expect.any(String),
        updated_at: expect.any(String),
      });
      expect(answer.headers.etag).toBe(`"${id}-${row.version}"`);
    });
    expect(after.reads - before.reads).toBe(calls.length);
    // Hundreds of requests at once: some arrive together and share a statement.
    expect(after.statements - before.statements).toBeLessThan(calls.length);
  }, 60_000);

  // The first read's statement is held after it has run, while a write commits; a read asked
  // for after the write must not join that statement.
  it("never joins a statement already sent: a read after a write sees the write", async () => {
    const row = rows[3]!;
    let answered!: () => void;
    const firstAnswered = new Promise<void>((resolve) => (answered = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let statements = 0;
    const holdingFirst: SqlRunner = async (statement, values) => {
      const result = await t.database.query(statement, values);
      if (++statements === 1) {
        answered();
        await held;
      }
      return result as never;
    };
    const products = new ProductsRepository(t.database.prisma, holdingFirst, { wire: toProductBody });

    const first = products.findById(row.id);
    await firstAnswered;
    await t.database.pool.query("UPDATE products SET stock = 7 WHERE id = $1", [row.id]);
    const second = await products.findById(row.id);
    expect(second).toMatchObject({ id: row.id, stock: 7, version: row.version + 1 });

    release();
    expect(await first).toMatchObject({ id: row.id, stock: row.stock, version: row.version });
    expect(statements).toBe(2);
  });

  it("a failed statement fails every read it served, and the next reads run afresh", async () => {
    let failing = true;
    const flaky: SqlRunner = async (statement, values) => {
      if (failing) throw new Error("connection terminated unexpectedly");
      return t.database.query(statement, values);
    };
    const products = new ProductsRepository(t.database.prisma, flaky, { wire: toProductBody });
    const together = await Promise.allSettled([products.findById(rows[0]!.id), products.findById(rows[1]!.id), products.findById(missingId)]);
    expect(together.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    for (const r of together) expect((r as PromiseRejectedResult).reason).toMatchObject({ message: "connection terminated unexpectedly" });

    failing = false;
    expect(await products.findById(rows[0]!.id)).toMatchObject({ id: rows[0]!.id, name: rows[0]!.name });
  });
});
