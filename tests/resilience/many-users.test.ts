// Many distinct users at once over real TCP, on the service as it really runs: its own process,
// with the development/test defaults (abuse limits included), on the embedded database exactly as
// `make run` starts it (PGlite half) or on PostgreSQL (PostgreSQL half). Every answer is checked, and afterwards SIGTERM stops it within its grace
// period. `npm run load:users` runs the same scenario with thousands of users.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { runManyUsers } from "../../bench/lib/many-users.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { testDatabaseKind } from "../helpers/database-setup.js";
import { ADMIN } from "../../support/admin.js";
import { startServerProcess } from "../helpers/server-process.js";

const USERS = 150;
const SHUTDOWN_GRACE_MS = 10_000;

let db: TestDatabase | undefined;
let dataDir: string | undefined;
beforeAll(async () => {
  if (testDatabaseKind() === "postgres") db = await createTestDatabase();
  else dataDir = await mkdtemp(join(tmpdir(), "order-service-many-users-"));
});
afterAll(async () => {
  await db?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe(`${USERS} distinct users at once over TCP`, () => {
  it("get right answers, each only its own data, and the service then stops in time", async () => {
    const server = await startServerProcess({
      LOG_LEVEL: "warn",
      ...(db ? { DATABASE_URL: db.url, ...db.env } : { DATABASE_URL: "", DATA_DIR: dataDir! }),
    });
    onTestFinished(() => void server.child.kill("SIGKILL"));
    const login = await fetch(`${server.baseUrl}/api/token/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(ADMIN),
    });
    expect(login.status).toBe(200);
    const { access } = (await login.json()) as { access: string };

    const report = await runManyUsers({ baseUrl: server.baseUrl, adminToken: access, users: USERS, ordersPerUser: 1, readers: 10, products: 50 });
    expect(report.failures.slice(0, 10), server.output().slice(-3000)).toEqual([]);
    expect(report.requests).toBeGreaterThan(USERS * 6);
    expect(report.ordersPlaced).toBe(USERS);
    expect(report.answers["POST /api/register/ 201"]).toBe(USERS + 10);

    const stopping = performance.now();
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect(performance.now() - stopping).toBeLessThan(SHUTDOWN_GRACE_MS);
  }, 240_000);
});
