// A read replica (DATABASE_READ_URL, here a hot standby streaming from the test server): the
// catalogue's reads go to it, a client reads its own writes, a replica lagging beyond
// DB_READ_MAX_LAG_MS (replay paused) sends reads to the primary, and a replica that is down
// leaves reads on the primary. Nothing answers 5xx meanwhile.
import type { FastifyInstance } from "fastify";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../src/infra/config.js";
import { startStandby, type Standby } from "../../support/postgres-cluster.js";
import { buildApp } from "../helpers/app.js";
import { checkedInject } from "../helpers/checked-inject.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { databaseUrl } from "../helpers/database-setup.js";

const MAX_LAG_MS = 1_000;

let db: TestDatabase;
let standby: Standby;
let app: FastifyInstance;
let adminToken: string;
let readerToken: string;
const asAdmin = checkedInject(
  () => app,
  () => adminToken,
);
const asReader = checkedInject(
  () => app,
  () => readerToken,
);

async function metric(name: string): Promise<number> {
  const line = (await app.serviceMetrics.registry.metrics()).split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1] ?? 0);
}
async function readsBy(target: "primary" | "replica"): Promise<number> {
  const line = (await app.serviceMetrics.registry.metrics()).split("\n").find((l) => l.startsWith(`db_reads_total{target="${target}"}`));
  return Number(line?.split(" ")[1] ?? 0);
}

/** A product read by id, in a list and in a count, as `call` sees them. */
async function seen(call: typeof asReader, id: number, name: string) {
  const [byId, list] = await Promise.all([call("GET", `/api/product/${id}`), call("GET", `/api/product/?keyword=${encodeURIComponent(name)}`)]);
  expect([byId.statusCode, list.statusCode]).toEqual([200, 200]);
  return {
    stock: byId.json().stock as number,
    listed: list.json().results.map((p: { stock: number }) => p.stock) as number[],
    count: list.json().count as number,
  };
}

beforeAll(async () => {
  const setup = inject("testDatabase");
  if (setup.kind !== "postgres") throw new Error("needs TEST_DB=postgres");
  db = await createTestDatabase();
  standby = await startStandby(setup.serverUrl);
  const readUrl = databaseUrl(standby.url, new URL(db.url).pathname.slice(1));
  const config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    ADMIN_PASSWORD: "12345",
    DATABASE_READ_URL: readUrl,
    DB_READ_MAX_LAG_MS: String(MAX_LAG_MS),
    DB_READ_YOUR_WRITES_MS: "3000",
  });
  app = await buildApp(config, { database: db, logger: false });
  adminToken = (await app.inject({ method: "POST", url: "/api/token/", payload: { name: "admin", password: "12345" } })).json().access;
  const reader = { name: `reader-${process.pid}`, password: "correct horse battery staple" };
  expect((await app.inject({ method: "POST", url: "/api/register/", payload: reader })).statusCode).toBe(201);
  readerToken = (await app.inject({ method: "POST", url: "/api/token/", payload: reader })).json().access;
}, 60_000);
afterAll(async () => {
  await app?.close();
  await standby?.stop();
  await db?.close();
});

describe("a read replica", () => {
  let id: number;
  const name = `Replica Oolong ${process.pid}`;

  it("serves the catalogue's reads (by id, lists, counts); the writer reads its own write from the primary", async () => {
    const created = await asAdmin("POST", "/api/product/", { name, price: "3", stock: 10 });
    expect(created.statusCode).toBe(201);
    id = created.json().id;
    const primaryBefore = await readsBy("primary");
    // Right after its write, the admin's reads are the primary's.
    expect(await seen(asAdmin, id, name)).toEqual({ stock: 10, listed: [10], count: 1 });
    expect(await readsBy("primary")).toBeGreaterThan(primaryBefore);
    // Another client reads from the replica once it has replayed the product.
    await expect.poll(async () => (await asReader("GET", `/api/product/${id}`)).statusCode, { timeout: 5_000 }).toBe(200);
    const [replicaBefore, primaryAfter] = [await readsBy("replica"), await readsBy("primary")];
    for (let i = 0; i < 10; i++) expect(await seen(asReader, id, name)).toEqual({ stock: 10, listed: [10], count: 1 });
    // At least a statement each time (a page already read has its products read by id, in the
    // same statement as the read by id asked for with it), every one of them the replica's.
    expect(await readsBy("replica")).toBeGreaterThanOrEqual(replicaBefore + 10);
    expect(await readsBy("primary")).toBe(primaryAfter);
  });

  it("with replay paused: the writer sees its write at once, others within the lag bound, nothing 5xx", async () => {
    await standby.run("SELECT pg_wal_replay_pause()");
    try {
      const written = Date.now();
      const patched = await asAdmin("PATCH", `/api/product/${id}`, { stock_delta: 5 });
      expect(patched.statusCode).toBe(200);
      expect(await seen(asAdmin, id, name)).toMatchObject({ stock: 15, listed: [15] });
      // Others may see the old stock (the replica is behind) until the lag passes the bound.
      let current = await seen(asReader, id, name);
      while (current.stock !== 15 || current.listed[0] !== 15) {
        expect(current.stock === 10 || current.stock === 15).toBe(true);
        expect(Date.now() - written, "others still read the old stock").toBeLessThan(MAX_LAG_MS + 3_000);
        await sleep(100);
        current = await seen(asReader, id, name);
      }
      expect(await metric("db_replica_lag_seconds")).toBeGreaterThan(MAX_LAG_MS / 1000);
      // Served by the primary while the replica lags.
      const primaryBefore = await readsBy("primary");
      await seen(asReader, id, name);
      expect(await readsBy("primary")).toBeGreaterThan(primaryBefore);
    } finally {
      await standby.run("SELECT pg_wal_replay_resume()");
    }
    // Caught up: back to the replica.
    await expect
      .poll(
        async () => {
          const before = await readsBy("replica");
          await seen(asReader, id, name);
          return (await readsBy("replica")) > before;
        },
        { timeout: 5_000 },
      )
      .toBe(true);
  });

  it("when the replica is down, reads fall back to the primary with the right answers", async () => {
    await standby.kill();
    for (let i = 0; i < 5; i++) expect(await seen(asReader, id, name)).toEqual({ stock: 15, listed: [15], count: 1 });
    await expect.poll(() => metric("db_replica_up"), { timeout: 5_000 }).toBe(0);
    expect(await seen(asReader, id, name)).toEqual({ stock: 15, listed: [15], count: 1 });
  });
});
