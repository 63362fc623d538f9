// The app owns what it opens on a shared PostgreSQL (DATABASE_URL) with Redis (REDIS_URL): the
// pool, the coordination connection, the Redis connection, the periodic jobs' timer. After
// `app.close()` nothing of ours keeps the process alive, and the database shows no session of ours.
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildApp } from "../helpers/app.js";
import { loadConfig } from "../../src/infra/config.js";
import { type RedisServer, startRedisServer } from "../../support/redis-server.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { openedSince, openResources } from "../helpers/open-resources.js";
import { testFilesRunInThisProcess } from "../helpers/process-sharing.js";

let db: TestDatabase;
let redis: RedisServer;
beforeAll(async () => {
  [db, redis] = await Promise.all([createTestDatabase(), startRedisServer()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.stop(), db?.close()]);
});

async function sessionsOnDatabase(): Promise<number> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
    return rows[0].n as number;
  } finally {
    await client.end();
  }
}

it("closes the pool, the coordination and Redis connections and the job timer", async () => {
  // Resources are counted by kind: exact only where no other test file left any (tests/own-process.ts).
  expect(testFilesRunInThisProcess(), "the first test file of its worker process").toBe(1);
  const before = openResources();
  const config = loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", DATABASE_URL: db.url, REDIS_URL: redis.url, ADMIN_PASSWORD: "12345" });
  const app = await buildApp(config, { pressure: { maxEventLoopDelayMs: 1_000, retryAfterSeconds: 5 } });
  expect(app.coordination).toBeDefined();
  await expect.poll(() => app.coordination?.isConnected(), { timeout: 5_000 }).toBe(true);
  const login = await app.inject({ method: "POST", url: "/api/token/", payload: { name: "admin", password: "12345" } });
  expect(login.statusCode).toBe(200);
  expect(await sessionsOnDatabase()).toBeGreaterThanOrEqual(2); // the pool's and the coordination connection
  expect(openedSince(before).TCPSocketWrap).toBeGreaterThanOrEqual(3); // pool, coordination, Redis

  await app.close();
  expect(app.database.pool.ended).toBe(true);
  await expect.poll(() => openedSince(before), { timeout: 5_000 }).toEqual({});
  await expect.poll(sessionsOnDatabase, { timeout: 5_000 }).toBe(0);
}, 60_000);
