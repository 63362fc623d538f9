// An idle pool connection whose server session ends (a restart, a failover, an administrator's
// pg_terminate_backend) is dropped by the pool and replaced: the service keeps answering, and the
// failure is logged with its cause and counted in db_pool_errors_total instead of vanishing.
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { captureLogs } from "../helpers/log-capture.js";

let t: TestApp;
const logs = captureLogs();
beforeAll(async () => {
  t = await startTestApp({}, { logger: { level: "info", stream: logs.stream } });
});
afterAll(() => t?.close());

const poolErrors = async () => {
  const line = (await t.app.serviceMetrics.registry.metrics()).split("\n").find((l) => l.startsWith("db_pool_errors_total "));
  return Number(line?.split(" ")[1]);
};

it("logs and counts an idle connection that failed, and keeps serving", async () => {
  const token = await t.adminToken();
  // Several requests at once leave several idle connections in the pool.
  await Promise.all(Array.from({ length: 4 }, () => t.request({ url: "/api/product/", token })));
  expect(t.database.pool.idleCount).toBeGreaterThan(0);
  expect(await poolErrors()).toBe(0);

  const admin = new pg.Client({ connectionString: t.database.url });
  await admin.connect();
  try {
    const { rowCount } = await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    expect(rowCount).toBeGreaterThan(0);
  } finally {
    await admin.end();
  }

  await expect.poll(poolErrors, { timeout: 5_000 }).toBeGreaterThan(0);
  const logged = logs.lines().filter((line) => line.component === "database-pool");
  expect(logged.length).toBe(await poolErrors());
  expect(logged[0]).toMatchObject({ level: 40, msg: expect.stringMatching(/idle database connection failed/) });
  expect(JSON.stringify(logged[0]!.err)).toMatch(/terminat/i);
  expect((await t.request({ url: "/api/product/", token })).statusCode).toBe(200);
}, 30_000);
