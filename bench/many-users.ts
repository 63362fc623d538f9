// npm run load:users — many distinct users at once, on the embedded database (as `make run` starts
// it, with the development defaults) and on a throwaway PostgreSQL, in one run: each user
// registers, logs in, orders and reads back its own data while readers fetch product pages. Every
// answer is checked, and its latency kept (p50, p99); afterwards SIGTERM must stop the service
// within its grace period (10 s). BENCH_SERVICE_DIR runs the service from another checkout.
// Env: LOAD_USERS (default 2000), LOAD_ORDERS_PER_USER (3), LOAD_READERS (20), LOAD_CONCURRENCY
// (users at once, default 300), LOAD_DATABASES (embedded,postgres).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminToken } from "./lib/api.js";
import { runManyUsers } from "./lib/many-users.js";
import { main, onCleanup, startCluster, step } from "./lib/main.js";
import { createMigratedDatabase } from "./lib/postgres.js";
import { printChecks, printTable, summarize, type Check, type Row } from "./lib/report.js";
import { startEmbeddedService, startService, type RunningServer } from "./lib/service.js";

const users = Number(process.env.LOAD_USERS ?? 2_000);
const ordersPerUser = Number(process.env.LOAD_ORDERS_PER_USER ?? 3);
const readers = Number(process.env.LOAD_READERS ?? 20);
const concurrency = Number(process.env.LOAD_CONCURRENCY ?? 300);
const databases = (process.env.LOAD_DATABASES ?? "embedded,postgres").split(",");
const GRACE_SECONDS = 10;

await main("load:users", async () => {
  const rows: Row[] = [];
  const checks: Check[] = [];
  for (const database of databases) {
    const service = await step(`starting the service on ${database}`, () => start(database));
    const report = await step(`${users} users (${concurrency} at once), ${ordersPerUser} orders each, ${readers} readers`, async () =>
      runManyUsers({ baseUrl: service.baseUrl, adminToken: await adminToken(service.baseUrl), users, ordersPerUser, readers, products: 20, concurrency }),
    );
    const stopped = await service.stop();
    const fiveHundreds = Object.entries(report.answers)
      .filter(([key]) => / 5\d\d$/.test(key))
      .reduce((sum, [, n]) => sum + n, 0);
    const latency = summarize(report.latenciesMs);
    rows.push({
      database,
      users,
      requests: report.requests,
      seconds: report.seconds,
      "req/s": report.requests / report.seconds,
      "p50 ms": latency.p50,
      "p99 ms": latency.p99,
      orders: report.ordersPlaced,
      "5xx": fiveHundreds,
      "wrong answers": report.failures.length,
      "SIGTERM → exit": `${stopped.code ?? stopped.signal} in ${stopped.seconds.toFixed(1)} s`,
    });
    checks.push({
      name: `${database}: every answer right`,
      ok: report.failures.length === 0,
      detail: report.failures.slice(0, 3).join(" | ") || `${report.requests} answers checked`,
    });
    checks.push({
      name: `${database}: every order placed`,
      ok: report.ordersPlaced === users * ordersPerUser,
      detail: `${report.ordersPlaced} of ${users * ordersPerUser}`,
    });
    checks.push({
      name: `${database}: SIGTERM stops it in time`,
      ok: stopped.code === 0 && stopped.seconds <= GRACE_SECONDS,
      detail: `exit ${stopped.code ?? stopped.signal} after ${stopped.seconds.toFixed(1)} s`,
    });
    printTable(
      `${database}: answers`,
      Object.entries(report.answers)
        .sort()
        .map(([answer, count]) => {
          const { p50, p99 } = summarize(report.latenciesByAnswer[answer] ?? []);
          return { answer, count, "p50 ms": p50, "p99 ms": p99 };
        }),
    );
  }
  printTable("Many users at once", rows);
  return printChecks("Checks", checks);
});

async function start(database: string): Promise<RunningServer> {
  if (database === "embedded") {
    const dataDir = await mkdtemp(join(tmpdir(), "order-service-load-"));
    onCleanup(() => rm(dataDir, { recursive: true, force: true }));
    const service = await startEmbeddedService(dataDir);
    onCleanup(async () => void (await service.stop()));
    return service;
  }
  const cluster = await startCluster();
  const url = await createMigratedDatabase(cluster, "load");
  // The development defaults, as on the embedded database: only the database differs.
  const service = await startService(url, { LOGIN_RATE_LIMIT_PER_MINUTE: "", REGISTER_RATE_LIMIT_PER_HOUR: "", LOGIN_FAILURES_BEFORE_DELAY: "" });
  onCleanup(async () => void (await service.stop()));
  return service;
}
