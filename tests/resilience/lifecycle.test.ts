// SIGTERM: the service stops taking new work, finishes what is in flight, closes its pool and
// exits 0. An order caught in the middle is committed exactly once.
import pg from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startServerProcess } from "../helpers/server-process.js";

let db: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await db.close();
});

async function json(response: Response) {
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe("graceful shutdown", () => {
  it("completes an in-flight order exactly once, then exits 0", async () => {
    const server = await startServerProcess({ DATABASE_URL: db.url });
    onTestFinished(() => void server.child.kill("SIGTERM")); // stops it (and its workers) if an assertion failed first
    const post = (path: string, body: unknown, token?: string) =>
      fetch(`${server.baseUrl}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    const { body: tokens } = await json(await post("/api/token/", { name: "admin", password: "12345" }));
    const { body: product } = await json(await post("/api/product/", { name: "Last Orders", price: "3.5", stock: 10 }, tokens.access));

    // Warm the server's pool, so that no connection has to be opened while the row is held
    // (on the embedded database a held transaction also holds up new connections).
    await Promise.all(Array.from({ length: 4 }, () => fetch(`${server.baseUrl}/api/product/`, { headers: { authorization: `Bearer ${tokens.access}` } })));
    // Hold the product's row so the order is still in flight when SIGTERM arrives.
    const blocker = await pool.connect();
    await blocker.query("BEGIN");
    await blocker.query("SELECT stock FROM products WHERE id = $1 FOR UPDATE", [product.id]);
    const inFlight = post("/api/order/", { products: [{ id: product.id, quantity: 4 }] }, tokens.access);
    await sleep(300);
    server.child.kill("SIGTERM");
    await sleep(300);

    // No new work once shutdown has begun.
    const late = await fetch(`${server.baseUrl}/readyz`).then(
      (r) => r.status,
      () => "refused",
    );
    expect([503, "refused"]).toContain(late);

    await blocker.query("COMMIT");
    blocker.release();
    const order = await json(await inFlight);
    expect(order.status, server.output()).toBe(201);
    expect(await server.exited).toBe(0);
    expect(server.output()).toMatch(/shutting down/);

    const orders = await pool.query("SELECT o.id, i.quantity FROM orders o JOIN order_items i ON i.order_id = o.id WHERE i.product_id = $1", [product.id]);
    expect(orders.rows).toEqual([{ id: order.body.id, quantity: 4 }]);
    const stock = await pool.query("SELECT stock FROM products WHERE id = $1", [product.id]);
    expect(stock.rows[0].stock).toBe(6);
  }, 60_000);
});
