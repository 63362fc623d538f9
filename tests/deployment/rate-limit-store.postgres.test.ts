// REDIS_URL: rate-limit counters in a real Redis, shared by every process. When Redis goes away
// the limits fail open to each process's memory: requests are still served (and still limited,
// per process), and a metric and one log line say so until Redis is back.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../helpers/app.js";
import { ConfigError, loadConfig, type Config } from "../../src/infra/config.js";
import { ADMIN } from "../../support/admin.js";
import { assertMatchesSpec } from "../helpers/contract.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { captureLogs } from "../helpers/log-capture.js";
import { freePort } from "../../support/postgres-cluster.js";
import { startRedisServer, type RedisServer } from "../../support/redis-server.js";

const FAILURES_BEFORE_DELAY = 3;

let db: TestDatabase;
let redis: RedisServer;
const closers: Array<() => Promise<void>> = [];

async function startProcess(overrides: Partial<Config> & Record<string, unknown> = {}) {
  const config = {
    ...loadConfig({ NODE_ENV: "test", ADMIN_PASSWORD: ADMIN.password }),
    LOGIN_RATE_LIMIT_PER_MINUTE: 10_000,
    LOGIN_FAILURES_BEFORE_DELAY: FAILURES_BEFORE_DELAY,
    DB_POOL_MAX: 2,
    ...overrides,
  } as Config;
  const logs = captureLogs();
  const app = await buildApp(config, {
    database: { url: db.url },
    logger: { level: "info", stream: logs.stream },
  });
  const metrics = app.serviceMetrics;
  closers.push(() => app.close());
  const login = async (name: string, password: string) => {
    const response = await app.inject({ method: "POST", url: "/api/token/", payload: { name, password } });
    assertMatchesSpec("POST", "/api/token/", response);
    return response.statusCode;
  };
  const metric = async (name: string) => (await metrics.registry.metrics()).split("\n").find((line) => line.startsWith(name));
  const logged = (pattern: RegExp) => logs.lines().filter((line) => pattern.test(String(line.msg)));
  return { app, login, metric, logged };
}

beforeAll(async () => {
  [db, redis] = await Promise.all([createTestDatabase(), startRedisServer()]);
}, 60_000);
afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
  await Promise.all([redis?.stop(), db?.close()]);
});

describe("REDIS_URL", () => {
  it("keeps the counters in Redis, shared by every process", async () => {
    const [one, two] = await Promise.all([startProcess({ REDIS_URL: redis.url }), startProcess({ REDIS_URL: redis.url })]);
    const seen: number[] = [];
    for (let i = 0; i <= FAILURES_BEFORE_DELAY; i++) seen.push(await (i % 2 ? two : one).login("admin", "wrong"));
    expect(seen).toEqual([...Array(FAILURES_BEFORE_DELAY).fill(401), 429]);
    const client = new Redis(redis.url);
    try {
      expect((await client.keys("order-service:rate-limit:*")).length).toBeGreaterThan(0);
    } finally {
      client.disconnect();
    }
    expect(await one.metric("rate_limit_store_up")).toBe('rate_limit_store_up{store="redis"} 1');
    expect(one.logged(/rate-limit store connected/)).toHaveLength(1);
  });

  it("serves on when Redis goes away, limiting per process, with a metric and one log line; recovers when it is back", async () => {
    const process = await startProcess({ REDIS_URL: redis.url });
    await redis.kill();
    try {
      const seen: number[] = [];
      for (let i = 0; i <= FAILURES_BEFORE_DELAY; i++) {
        const started = Date.now();
        seen.push(await process.login("fallback-name", "wrong"));
        expect(Date.now() - started).toBeLessThan(2_000); // answered, not held while Redis is away
      }
      // Served (never a 5xx), and still limited, in this process's memory.
      expect(seen).toEqual([...Array(FAILURES_BEFORE_DELAY).fill(401), 429]);
      expect(await process.metric("rate_limit_store_up")).toBe('rate_limit_store_up{store="redis"} 0');
      expect(Number((await process.metric("rate_limit_store_errors_total"))?.split(" ")[1])).toBeGreaterThan(0);
      const warnings = process.logged(/rate-limit store unreachable/);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 40, store: "redis" });
    } finally {
      await redis.start();
    }
    await expect.poll(() => process.metric("rate_limit_store_up"), { timeout: 10_000 }).toBe('rate_limit_store_up{store="redis"} 1');
    expect(process.logged(/rate-limit store connected/)).toHaveLength(2);
    // Counting in Redis again (the restarted Redis is empty).
    expect(await process.login("after-restart", "wrong")).toBe(401);
    const client = new Redis(redis.url);
    try {
      expect((await client.keys("order-service:rate-limit:*")).length).toBeGreaterThan(0);
    } finally {
      client.disconnect();
    }
  }, 30_000);

  it("starts without Redis (limits per process until it answers)", async () => {
    const process = await startProcess({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(await process.login("admin", ADMIN.password)).toBe(200);
    expect(await process.metric("rate_limit_store_up")).toBe('rate_limit_store_up{store="redis"} 0');
    expect(process.logged(/rate-limit store unreachable/)).toHaveLength(1);
  }, 20_000);

  it("is refused at start-up unless it is a redis:// or rediss:// URL", () => {
    expect(() => loadConfig({ REDIS_URL: "localhost:6379" })).toThrow(ConfigError);
    expect(loadConfig({ REDIS_URL: "rediss://cache.internal:6380/0" }).REDIS_URL).toBe("rediss://cache.internal:6380/0");
  });

  it("says at start-up that limits are per process when several processes run without it", async () => {
    const perProcess = /REDIS_URL is not set: rate limits are counted per process/;
    const production = loadConfig({ NODE_ENV: "production", JWT_SECRET: "4sJq9vXz2LmN7pRt0wYb3cHe6kUf8gDa" });
    expect((await startProcess({ WORKERS: 2 })).logged(perProcess)).toHaveLength(1);
    // Issue 27, finding 10: a single production process counts exactly, and does not warn (it did).
    expect((await startProcess({ ...production, LOGIN_FAILURES_BEFORE_DELAY: 3 })).logged(perProcess)).toHaveLength(0);
    expect((await startProcess({ WORKERS: 2, REDIS_URL: redis.url })).logged(perProcess)).toHaveLength(0);
    expect((await startProcess()).logged(perProcess)).toHaveLength(0); // one development process
  }, 20_000);
});
