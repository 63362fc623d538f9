// The database goes away under the running service: requests answer 503 problems quickly,
// /readyz fails, an order caught in the middle is committed whole or not at all, and the
// service recovers by itself when the database returns.
import pg from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../helpers/app.js";
import { loadConfig } from "../../src/infra/config.js";
import { applyMigrations } from "../../src/infra/db/migrations.js";
import { checkedInject } from "../helpers/checked-inject.js";
import { createDatabase, databaseUrl } from "../helpers/database-setup.js";
import { startPostgresCluster, type PostgresCluster } from "../../support/postgres-cluster.js";

let cluster: PostgresCluster;
let app: FastifyInstance;
let url: string;
let token: string;
let productId: number;

const call = checkedInject(
  () => app,
  () => token,
);

async function until<T>(probe: () => Promise<T>, accept: (value: T) => boolean, seconds = 30): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await sleep(250);
  }
}

beforeAll(async () => {
  cluster = await startPostgresCluster({ durable: true });
  await createDatabase(cluster.url, "shop");
  url = databaseUrl(cluster.url, "shop");
  await applyMigrations(url);
  // As a deployment runs it: migrated beforehand (npm run migrate), then the app on DATABASE_URL.
  const config = loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", DATABASE_URL: url, DB_POOL_MAX: "5", ADMIN_PASSWORD: "12345" });
  app = await buildApp(config, { logger: false });
  token = (await app.inject({ method: "POST", url: "/api/token/", payload: { name: "admin", password: "12345" } })).json().access;
  const created = await call("POST", "/api/product/", { name: "Outage Tea", price: "2", stock: 100 });
  if (created.statusCode !== 201) throw new Error(`setup failed: ${created.body}`);
  productId = created.json().id;
}, 120_000);
afterAll(async () => {
  await app?.close();
  await cluster?.stop();
});

describe("a database outage", () => {
  it("answers 503 quickly while the database is down and recovers without a restart", async () => {
    expect((await call("GET", "/api/product/")).statusCode).toBe(200);
    await cluster.pause();

    const started = Date.now();
    const down = await call("GET", "/api/product/");
    expect(down.statusCode).toBe(503);
    expect(down.headers["retry-after"]).toBe("5");
    expect(Date.now() - started).toBeLessThan(10_000); // answered, not left hanging until a client times out
    expect((await call("GET", "/readyz")).statusCode).toBe(503);
    expect((await call("POST", "/api/order/", { products: [{ id: productId, quantity: 1 }] })).statusCode).toBe(503);

    await cluster.resume();
    const ready = await until(
      () => call("GET", "/readyz"),
      (r) => r.statusCode === 200,
    );
    expect(ready.statusCode).toBe(200);
    const back = await until(
      () => call("GET", "/api/product/"),
      (r) => r.statusCode === 200,
    );
    expect(back.json().count).toBe(1);
  }, 90_000);

  it("never leaves half an order when the connection dies mid-transaction", async () => {
    const direct = new pg.Client({ connectionString: url });
    direct.on("error", () => {}); // it dies with the server, on purpose
    await direct.connect();
    const before = (await direct.query("SELECT stock FROM products WHERE id = $1", [productId])).rows[0].stock as number;
    // Hold the row so the order is inside its transaction when the database dies.
    await direct.query("BEGIN");
    await direct.query("SELECT 1 FROM products WHERE id = $1 FOR UPDATE", [productId]);
    const inFlight = call("POST", "/api/order/", { products: [{ id: productId, quantity: 7 }] });
    await sleep(500);
    await cluster.pause();
    const answer = await inFlight;
    expect([201, 503]).toContain(answer.statusCode);
    await cluster.resume();

    const check = new pg.Client({ connectionString: url });
    await until(
      () =>
        check.connect().then(
          () => true,
          () => false,
        ),
      Boolean,
    );
    const stock = (await check.query("SELECT stock FROM products WHERE id = $1", [productId])).rows[0].stock as number;
    const sold = Number((await check.query("SELECT coalesce(sum(quantity), 0) AS n FROM order_items WHERE product_id = $1", [productId])).rows[0].n);
    const orders = Number(
      (await check.query("SELECT count(*) AS n FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)")).rows[0].n,
    );
    await check.end();
    expect(orders).toBe(0); // no order without its lines
    expect(before - stock).toBe(answer.statusCode === 201 ? 7 : 0);
    expect(sold).toBe(100 - stock); // every unit taken is in an order line, and only those
  }, 90_000);

  it("holds a write while the database restarts, and answers it once the database is back instead of a 503", async () => {
    const name = `Held Oolong ${process.pid}`;
    // The last test's outage is over for the service too (a readiness probe reached the database),
    // so this restart is a new outage with a hold of its own.
    expect(
      (
        await until(
          () => call("GET", "/readyz"),
          (ready) => ready.statusCode === 200,
        )
      ).statusCode,
    ).toBe(200);
    await cluster.pause();
    const held = call("POST", "/api/product/", { name, price: "4", stock: 3 });
    await cluster.resume();
    const answer = await held;
    expect(answer.statusCode, answer.body).toBe(201);
    expect(answer.json()).toMatchObject({ name, stock: 3 });
    const listed = await call("GET", `/api/product/?keyword=${encodeURIComponent(name)}`);
    expect(listed.json()).toMatchObject({ count: 1, results: [{ id: answer.json().id, name, stock: 3 }] });
  }, 60_000);
});
