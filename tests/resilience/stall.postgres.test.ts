// A stall answers a prompt 503 with Retry-After, and writes nothing: a row or a table held
// locked by another session (lock_timeout), and a database that stopped answering altogether
// (the client's query timeout and Prisma's transaction wait).
//
// PostgreSQL only (this file runs in the PostgreSQL half): on the embedded PGlite every
// connection shares one session, so a lock held "from another connection" is held by the same
// session, and the other connection's statements queue behind the holder instead of waiting on
// a lock. Neither can be reproduced there.
import pg from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../helpers/app.js";
import { loadConfig } from "../../src/infra/config.js";
import { applyMigrations } from "../../src/infra/db/migrations.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";
import { checkedInject } from "../helpers/checked-inject.js";
import { createDatabase, databaseUrl } from "../helpers/database-setup.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";
import { startPostgresCluster, type PostgresCluster } from "../../support/postgres-cluster.js";

/** The answer and how long it took, in seconds. */
async function timed<T>(work: Promise<T>): Promise<[T, number]> {
  const started = Date.now();
  const value = await work;
  return [value, (Date.now() - started) / 1000];
}

function expectUnavailable(response: { statusCode: number; headers: Record<string, unknown>; json(): any }) {
  expect(response.statusCode).toBe(503);
  expect(Number(response.headers["retry-after"])).toBeGreaterThan(0);
  expect(response.json().code).toBe("service-unavailable");
}

describe("a row or table held locked by another session", () => {
  let t: TestApp;
  let holder: pg.Client;
  let admin: string;
  let buyer: string;
  let productId: number;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.adminToken();
    buyer = (await t.createUser()).access;
    productId = (await createProduct(viaApp(t), admin, { name: "Locked Tea", price: "2", stock: 10 })).id;
    holder = new pg.Client({ connectionString: t.database.pool.options.connectionString });
    await holder.connect();
  });
  afterAll(async () => {
    await holder?.end();
    await t?.close();
  });

  async function whileHeld(lock: string, check: () => Promise<void>) {
    await holder.query("BEGIN");
    try {
      await holder.query(lock);
      await check();
    } finally {
      await holder.query("ROLLBACK");
    }
  }

  it("an order for a locked product answers 503 within seconds and takes nothing", async () => {
    await whileHeld(`SELECT 1 FROM products WHERE id = ${productId} FOR UPDATE`, async () => {
      const before = await databaseFingerprint(t.database);
      const [order, seconds] = await timed(
        t.request({ method: "POST", url: "/api/order/", token: buyer, payload: { products: [{ id: productId, quantity: 1 }] } }),
      );
      expectUnavailable(order);
      expect(seconds).toBeLessThan(6); // lock_timeout is 3 s; it waited 19.5 s for a 500 before
      const [update] = await timed(t.request({ method: "PATCH", url: `/api/product/${productId}`, token: admin, payload: { stock: 99 } }));
      expectUnavailable(update);
      expect(await databaseFingerprint(t.database)).toBe(before);
    });
    const after = await t.request({ method: "POST", url: "/api/order/", token: buyer, payload: { products: [{ id: productId, quantity: 1 }] } });
    expect(after.statusCode).toBe(201);
    expect(after.json().items[0]).toMatchObject({ product_id: productId, quantity: 1 });
  }, 30_000);

  it("a read of a table locked exclusively answers 503 within seconds", async () => {
    await whileHeld("LOCK TABLE products IN ACCESS EXCLUSIVE MODE", async () => {
      const [page, seconds] = await timed(t.request({ url: "/api/product/?keyword=locked", token: buyer }));
      expectUnavailable(page);
      expect(seconds).toBeLessThan(6);
    });
    expect((await t.request({ url: "/api/product/?keyword=locked", token: buyer })).json().count).toBe(1);
  }, 30_000);
});

describe("a frozen database", () => {
  let cluster: PostgresCluster;
  let app: FastifyInstance;
  let token: string;
  let productId: number;

  const call = checkedInject(
    () => app,
    () => token,
  );

  beforeAll(async () => {
    cluster = await startPostgresCluster();
    await createDatabase(cluster.url, "shop");
    const url = databaseUrl(cluster.url, "shop");
    await applyMigrations(url);
    const config = loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", DATABASE_URL: url, DB_POOL_MAX: "5", ADMIN_PASSWORD: "12345" });
    app = await buildApp(config, { logger: false });
    token = (await app.inject({ method: "POST", url: "/api/token/", payload: { name: "admin", password: "12345" } })).json().access;
    productId = (await call("POST", "/api/product/", { name: "Frozen Tea", price: "2", stock: 100 })).json().id;
  }, 120_000);
  afterAll(async () => {
    await cluster?.thaw().catch(() => {});
    await app?.close();
    await cluster?.stop();
  });

  it("answers orders and reads with 503 within seconds, writes nothing, and recovers when it thaws", async () => {
    // Warm connections in the pool: they are the ones that hang when the server freezes.
    await Promise.all([call("GET", `/api/product/${productId}`), call("GET", "/api/order/")]);
    await cluster.freeze();
    let frozen = true;
    try {
      const [[order, orderSeconds], [read, readSeconds]] = await Promise.all([
        timed(call("POST", "/api/order/", { products: [{ id: productId, quantity: 3 }] })),
        timed(call("GET", `/api/product/${productId}`)),
      ]);
      expectUnavailable(order); // was P2028 "Unable to start a transaction", a 500
      expectUnavailable(read);
      expect(orderSeconds).toBeLessThan(10);
      expect(readSeconds).toBeLessThan(10);
      await cluster.thaw();
      frozen = false;
    } finally {
      if (frozen) await cluster.thaw();
    }
    let back = await call("GET", `/api/product/${productId}`);
    for (let i = 0; i < 40 && back.statusCode !== 200; i++) {
      await sleep(250);
      back = await call("GET", `/api/product/${productId}`);
    }
    expect(back.statusCode).toBe(200);
    expect(back.json().stock).toBe(100); // the refused order took nothing
    expect((await call("GET", "/api/order/")).json().count).toBe(0);
    const order = await call("POST", "/api/order/", { products: [{ id: productId, quantity: 3 }] });
    expect(order.statusCode).toBe(201);
  }, 60_000);
});
