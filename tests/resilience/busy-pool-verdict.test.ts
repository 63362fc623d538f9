// Issue 27, finding 8: when every connection of the pool stays busy for the whole wait, the answer
// says what happened. The database answering meanwhile (or not being waited on at all) is the
// service's own saturation: 503 `overloaded`, counted under db_pool_wait_timeouts_total{verdict="overloaded"}.
// Statements waiting for a database that answers none of them is a stalled database: 503
// `service-unavailable` ("The database is unavailable"), as before. A tiny pool (one connection)
// and a short wait make both happen at will, on either database.
import type { FastifyInstance } from "fastify";
import type pg from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/infra/config.js";
import { ADMIN } from "../../support/admin.js";
import { buildApp } from "../helpers/app.js";
import { assertMatchesSpec } from "../helpers/contract.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const WAIT_MS = 400;

let db: TestDatabase;
let app: FastifyInstance;
let token: string;
beforeAll(async () => {
  db = await createTestDatabase();
  const config = {
    ...loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", ADMIN_PASSWORD: ADMIN.password, ...db.env }),
    DB_POOL_MAX: 1,
    DB_POOL_WAIT_MS: WAIT_MS,
  };
  app = await buildApp(config, { database: { ...db, waits: { acquireTimeoutMs: WAIT_MS, connectTimeoutMs: WAIT_MS } }, logger: false });
  const login = await app.inject({ method: "POST", url: "/api/token/", payload: ADMIN });
  token = login.json().access;
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

const listOrders = async () => {
  const response = await app.inject({ url: "/api/order/", headers: { authorization: `Bearer ${token}` } });
  assertMatchesSpec("GET", "/api/order/", response);
  return response;
};

const waitTimeouts = async (verdict: string) => {
  const line = (await app.serviceMetrics.registry.metrics()).split("\n").find((l) => l.startsWith(`db_pool_wait_timeouts_total{verdict="${verdict}"}`));
  return Number(line?.split(" ")[1]);
};

/** Takes the pool's only connection and runs `hold` on it; the connection goes back when `hold` ends. */
async function holdingTheConnection<T>(hold: (client: pg.PoolClient) => Promise<unknown>, meanwhile: () => Promise<T>): Promise<T> {
  const client = await app.database.pool.connect();
  const holding = hold(client).finally(() => client.release());
  try {
    return await meanwhile();
  } finally {
    await holding;
  }
}

describe("finding 8: a pool that stays busy for the whole wait", () => {
  it("answers 503 overloaded, not 'the database is unavailable', while the database keeps answering", async () => {
    const before = { overloaded: await waitTimeouts("overloaded"), unavailable: await waitTimeouts("database-unavailable") };
    let busy = true;
    const response = await holdingTheConnection(
      async (client) => {
        // Long-held, and busy with short statements the database answers at once.
        while (busy) {
          await client.query("SELECT 1");
          await sleep(20);
        }
      },
      async () => {
        const answer = await listOrders();
        busy = false;
        return answer;
      },
    );
    expect(response.statusCode).toBe(503);
    expect(response.headers["retry-after"]).toBe("5");
    expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({
      code: "overloaded",
      title: "Service overloaded",
      detail: expect.stringMatching(/no database connection became free in time/),
    });
    // Counted (background jobs waiting for the connection too are counted as well).
    expect(await waitTimeouts("overloaded")).toBeGreaterThan(before.overloaded);
    expect(await waitTimeouts("database-unavailable")).toBe(before.unavailable);
    // Once the connection is free again, the same request is served.
    expect((await listOrders()).statusCode).toBe(200);
  });

  it("answers 503 overloaded when the connection is held by the service itself, not waiting for the database", async () => {
    const before = await waitTimeouts("overloaded");
    const response = await holdingTheConnection(
      () => sleep(WAIT_MS * 3),
      () => listOrders(),
    );
    expect(response.statusCode).toBe(503);
    expect(response.json().code).toBe("overloaded");
    expect(await waitTimeouts("overloaded")).toBeGreaterThan(before);
  });

  it("still answers service-unavailable when the database answers none of the statements waiting for it", async () => {
    const before = await waitTimeouts("database-unavailable");
    const response = await holdingTheConnection(
      // One statement the server takes far longer than the wait to answer: a stalled database.
      (client) => client.query(`SELECT pg_sleep(${(WAIT_MS * 3) / 1000})`),
      () => listOrders(),
    );
    expect(response.statusCode).toBe(503);
    expect(response.headers["retry-after"]).toBe("5");
    expect(response.json()).toMatchObject({ code: "service-unavailable", detail: "The database is unavailable; try again shortly." });
    expect(await waitTimeouts("database-unavailable")).toBeGreaterThan(before);
    expect((await listOrders()).statusCode).toBe(200);
  });
});
