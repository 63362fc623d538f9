// Commit order under concurrent writers (PostgreSQL only: the embedded database runs one
// transaction at a time, so no writer can commit while another's transaction is open).
// A transaction that began first but commits last must not be skipped by a reader that already
// read what committed meanwhile.
import pg from "pg";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";

let t: TestApp;
let admin: string;
beforeAll(async () => {
  t = await startTestApp();
  admin = await t.adminToken();
});
afterAll(() => t.close());

/** The page after `after`, read again until it has `expected` events (an event is listed once every older transaction on the server has ended). */
async function pageOf(after: string | null, expected: number) {
  let read = await page(after);
  for (let i = 0; i < 250 && read.results.length < expected; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    read = await page(after);
  }
  return read;
}

async function page(after: string | null) {
  const answer = await t.request({ url: `/api/event/${after ? `?after=${after}` : ""}`, token: admin });
  expect(answer.statusCode, answer.body).toBe(200);
  return answer.json();
}

it("lists an event only once every transaction that began before it has ended, so a slow writer is never skipped", async () => {
  const start = (await pageOf(null, await t.database.prisma.event.count())).cursor;
  const slow = new pg.Client({ connectionString: t.database.url });
  await slow.connect();
  try {
    await slow.query("BEGIN");
    await slow.query("SELECT pg_current_xact_id()");
    // Commits while the slow transaction (an older id) is still open.
    const fast = await createProduct(viaApp(t), admin);
    const meanwhile = await page(start);
    expect(meanwhile.results).toEqual([]);
    expect(meanwhile.cursor).toBe(start);

    const slowId = uuidv7();
    await slow.query("INSERT INTO events (id, xid, type, resource, data) VALUES ($1, pg_current_xact_id()::text::bigint, 'product.updated', $2, $3)", [
      slowId,
      `product:${fast.id}`,
      JSON.stringify({ ...fast, stock: 1 }),
    ]);
    await slow.query("COMMIT");
    // Both now, the slow one (the older transaction) first; a reader at `start` misses neither.
    const after = await pageOf(meanwhile.cursor, 2);
    expect(after.results.map((e: { id: string }) => e.id)).toEqual([slowId, expect.any(String)]);
    expect(after.results[1].data).toEqual(fast);
  } finally {
    await slow.end();
  }
});

it("lists concurrent changes of one product in the order they were made", async () => {
  const product = await createProduct(viaApp(t), admin, { stock: 0 });
  const start = (await pageOf(null, await t.database.prisma.event.count())).cursor;
  await Promise.all(
    Array.from({ length: 20 }, () => t.request({ method: "PATCH", url: `/api/product/${product.id}`, token: admin, payload: { stock_delta: 1 } })),
  );
  const { results } = await pageOf(start, 20);
  expect(results.map((e: { data: { stock: number } }) => e.data.stock)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
});
