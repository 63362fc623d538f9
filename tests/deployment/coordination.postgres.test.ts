// Processes sharing one PostgreSQL coordinate through it: a write through one drops the others'
// cached product counts (LISTEN/NOTIFY), the 5 s reuse still bounds staleness when that channel
// is down, and periodic jobs run on one process at a time (an advisory lock), moving to another
// when that one stops.
import pg from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../helpers/app.js";
import { loadConfig } from "../../src/infra/config.js";
import { ADMIN } from "../../support/admin.js";
import { assertMatchesSpec } from "../helpers/contract.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { freePort } from "../../support/postgres-cluster.js";

let db: TestDatabase;
const closers: Array<() => Promise<void>> = [];

type Process = Awaited<ReturnType<typeof startProcess>>;

/** An app as one process of a deployment would build it (src/server.ts), on the shared database. */
async function startProcess(coordinationUrl = db.url) {
  const config = {
    ...loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", ADMIN_PASSWORD: ADMIN.password }),
    LOGIN_RATE_LIMIT_PER_MINUTE: 10_000,
    DB_POOL_MAX: 3,
  };
  // Every process creates the admin if missing, as src/server.ts does.
  const app = await buildApp(config, {
    database: { url: db.url },
    logger: false,
    coordination: { url: coordinationUrl, checkIntervalMs: 200 },
    jobIntervalMs: 300,
  });
  let open = true;
  const close = async () => {
    if (!open) return;
    open = false;
    await app.close();
  };
  closers.push(close);
  const metric = async (name: string) => {
    const text = await app.serviceMetrics.registry.metrics();
    return text.split("\n").filter((line) => line.startsWith(name));
  };
  return { app, close, metric, token: "" };
}

async function call(process: Process, method: string, url: string, payload?: object) {
  const response = await process.app.inject({
    method: method as "GET",
    url,
    headers: { authorization: `Bearer ${process.token}` },
    ...(payload ? { payload } : {}),
  });
  assertMatchesSpec(method, url, response);
  return response;
}

async function signIn(process: Process) {
  const response = await call(process, "POST", "/api/token/", ADMIN);
  process.token = response.json().access;
}

const purgeRuns = async (process: Process) =>
  (await process.metric('periodic_job_runs_total{job="idempotency-purge",outcome="ok"}')).reduce((sum, line) => sum + Number(line.split(" ")[1]), 0);
const isLeader = async (process: Process) => (await process.metric("periodic_jobs_leader "))[0] === "periodic_jobs_leader 1";

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
  await db?.close();
});

describe("coordination through PostgreSQL", () => {
  it("counts another process's write at once, and within 5 s when the notification channel is down", async () => {
    const [writer, reader] = await Promise.all([startProcess(), startProcess()]);
    // Listens on a server that is not there: only the 5 s reuse applies.
    const deaf = await startProcess(`postgres://nobody@127.0.0.1:${await freePort()}/none`);
    await Promise.all([writer, reader, deaf].map(signIn));
    await expect.poll(async () => (await reader.metric("coordination_connection_up "))[0]).toBe("coordination_connection_up 1");
    expect((await deaf.metric("coordination_connection_up "))[0]).toBe("coordination_connection_up 0");

    const count = async (process: Process) => (await call(process, "GET", "/api/product/?keyword=notified&limit=1")).json().count as number;
    expect([await count(reader), await count(deaf)]).toEqual([0, 0]); // now reused
    expect((await call(writer, "POST", "/api/product/", { name: "notified tea", price: "1", stock: 1 })).statusCode).toBe(201);
    const written = Date.now();
    await expect.poll(() => count(reader), { timeout: 1_000, interval: 10 }).toBe(1);
    expect(Date.now() - written).toBeLessThan(1_000);
    expect(await count(deaf)).toBe(0); // still reused…
    await expect.poll(() => count(deaf), { timeout: 6_000, interval: 100 }).toBe(1); // …for at most 5 s
    expect(Date.now() - written).toBeLessThan(6_000);
    await Promise.all([writer, reader, deaf].map((process) => process.close()));
  }, 30_000);

  it("reconnects the channel after the connection is lost, and counts writes again at once", async () => {
    const [writer, reader] = await Promise.all([startProcess(), startProcess()]);
    await Promise.all([writer, reader].map(signIn));
    await expect.poll(async () => (await reader.metric("coordination_connection_up "))[0]).toBe("coordination_connection_up 1");
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      const { rowCount } = await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'order-service coordination' AND datname = current_database()",
      );
      expect(rowCount).toBeGreaterThanOrEqual(2);
    } finally {
      await admin.end();
    }
    await expect.poll(async () => (await reader.metric("coordination_connection_up "))[0], { timeout: 5_000 }).toBe("coordination_connection_up 1");
    const count = async () => (await call(reader, "GET", "/api/product/?keyword=reconnected&limit=1")).json().count as number;
    expect(await count()).toBe(0);
    await call(writer, "POST", "/api/product/", { name: "reconnected tea", price: "1", stock: 1 });
    await expect.poll(count, { timeout: 1_000, interval: 10 }).toBe(1);
    await Promise.all([writer, reader].map((process) => process.close()));
  }, 30_000);

  it("runs the idempotency purge on one process at a time, and on another when that one stops", async () => {
    const processes = await Promise.all([startProcess(), startProcess(), startProcess()]);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      await expect.poll(async () => (await Promise.all(processes.map(isLeader))).filter(Boolean).length, { timeout: 5_000 }).toBe(1);
      await sleep(1_500); // several purge intervals
      expect((await Promise.all(processes.map(isLeader))).filter(Boolean)).toHaveLength(1);
      const runs = await Promise.all(processes.map(purgeRuns));
      const leader = processes[runs.findIndex((n) => n > 0)]!;
      expect(runs.filter((n) => n > 0)).toHaveLength(1); // only the leader ran it
      expect(Math.max(...runs)).toBeGreaterThanOrEqual(3);

      // A key older than the 24-hour window, and a fresh one: the purge removes only the old.
      const user = (await admin.query("SELECT id FROM users WHERE name = 'admin'")).rows[0].id;
      await admin.query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, body, created_at) VALUES ($1, 'old', 'h', 201, '{}', now() - interval '25 hours'), ($1, 'new', 'h', 201, '{}', now())",
        [user],
      );
      await expect
        .poll(async () => (await admin.query("SELECT key FROM idempotency_keys ORDER BY key")).rows.map((r) => r.key), { timeout: 3_000 })
        .toEqual(["new"]);

      await leader.close();
      const rest = processes.filter((process) => process !== leader);
      await expect.poll(async () => (await Promise.all(rest.map(isLeader))).filter(Boolean).length, { timeout: 3_000 }).toBe(1);
      const before = await Promise.all(rest.map(purgeRuns));
      await sleep(1_000);
      const after = await Promise.all(rest.map(purgeRuns));
      expect(after.map((n, i) => n - before[i]!).filter((n) => n > 0)).toHaveLength(1);
    } finally {
      await admin.end();
      await Promise.all(processes.map((process) => process.close()));
    }
  }, 30_000);
});
