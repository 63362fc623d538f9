// npm run bench:replicas — one process against two replicas behind nginx (ops/nginx), on one
// PostgreSQL and one Redis (REDIS_URL): orders/s spread over 1000 products, and how long a
// product written through one replica takes to count on the other (LISTEN/NOTIFY).
// Env: BENCH_DURATION (seconds per phase, default 10), BENCH_CONNECTIONS (32), BENCH_USERS (32),
// BENCH_PROPAGATION_SAMPLES (50).
import { startNginx } from "../support/nginx.js";
import { startRedisServer } from "../support/redis-server.js";
import { adminToken, call, expect, registerUsers } from "./lib/api.js";
import { benchDuration, randomInts, randomOrder, roundRobin, runLoad, WARMUP_SECONDS, type LoadResult } from "./lib/load.js";
import { main, onCleanup, startCluster, startServiceFor, step } from "./lib/main.js";
import { createMigratedDatabase, seedProducts, stockLedgerErrors, stockById, waitForQuiet } from "./lib/postgres.js";
import { printChecks, printTable, summarize } from "./lib/report.js";

const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const userCount = Number(process.env.BENCH_USERS ?? 32);
const samples = Number(process.env.BENCH_PROPAGATION_SAMPLES ?? 50);
const PRODUCTS = 1_000;

await main("bench:replicas", async () => {
  const cluster = await startCluster();
  const redis = await step("redis", () => startRedisServer());
  onCleanup(() => redis.stop());
  const databaseUrl = await step("database + migrations", () => createMigratedDatabase(cluster, "replicas"));
  const { firstId, lastId } = await step(`seeding ${PRODUCTS} products`, () => seedProducts(databaseUrl, PRODUCTS, 1_000_000));
  const env = { REDIS_URL: redis.url, TRUST_PROXY: "true" };
  const a = await step("starting replica A", () => startServiceFor(databaseUrl, env));
  const b = await step("starting replica B", () => startServiceFor(databaseUrl, env));
  const onlyA = await step("nginx in front of A", () => startNginx([new URL(a.baseUrl).host]));
  onCleanup(() => onlyA.stop());
  const both = await step("nginx in front of A and B", () => startNginx([a.baseUrl, b.baseUrl].map((url) => new URL(url).host)));
  onCleanup(() => both.stop());

  const users = await step(`registering and logging in ${userCount} users`, () => registerUsers(a.baseUrl, userCount));
  const nextToken = roundRobin(users.map((user) => user.token));
  const random = randomInts(11);
  const ids = Array.from({ length: lastId - firstId + 1 }, (_, i) => firstId + i);
  const initialStock = await stockById(databaseUrl);
  const load = (baseUrl: string, durationSeconds?: number) =>
    runLoad({
      baseUrl,
      connections,
      durationSeconds,
      next: () => ({ method: "POST", path: "/api/order/", token: nextToken(), body: randomOrder(random, ids) }),
    });

  const phases: { setup: string; result: LoadResult }[] = [];
  for (const [setup, baseUrl] of [
    ["one process, direct", a.baseUrl],
    ["one process behind nginx", onlyA.baseUrl],
    ["two replicas behind nginx", both.baseUrl],
  ] as const) {
    await step(`warm-up ${setup} (${WARMUP_SECONDS} s)`, () => load(baseUrl, WARMUP_SECONDS));
    await waitForQuiet(databaseUrl);
    phases.push({ setup, result: await step(`${setup} (${benchDuration()} s, ${connections} connections)`, () => load(baseUrl)) });
    await waitForQuiet(databaseUrl);
  }
  printTable(
    "Orders over 1000 products (latency in ms)",
    phases.map(({ setup, result }) => ({
      setup,
      "orders/s": (result.statuses["201"] ?? 0) / benchDuration(),
      p50: result.p50,
      p99: result.p99,
      "201s": result.statuses["201"] ?? 0,
      others: result.requests - (result.statuses["201"] ?? 0),
      errors: result.errors,
    })),
  );

  const ledger = await stockLedgerErrors(databaseUrl, initialStock); // before the propagation step adds products

  // A product created through A, then B's list count polled every 2 ms (the count of B's first
  // list is reused for up to 5 s unless B is told of the write).
  const token = await adminToken(a.baseUrl);
  const delays: number[] = [];
  await step(`write-to-count propagation, ${samples} samples`, async () => {
    for (let i = 0; i < samples; i++) {
      const keyword = `propagation${Date.now()}x${i}`;
      const count = async () => (await call<{ count: number }>(b.baseUrl, "GET", `/api/product/?keyword=${keyword}&limit=1`, { token })).body.count;
      if ((await count()) !== 0) throw new Error("fresh keyword already counted");
      await expect(201, a.baseUrl, "POST", "/api/product/", { token, body: { name: `${keyword} tea`, price: "1.000", stock: 1 } });
      const written = performance.now();
      while ((await count()) !== 1) {
        if (performance.now() - written > 10_000) throw new Error("the write never counted on the other replica");
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      delays.push(performance.now() - written);
    }
  });
  const delay = summarize(delays);
  printTable("Write on A → counted on B (ms)", [{ samples: delay.n, mean: delay.mean, p50: delay.p50, p99: delay.p99, max: Math.max(...delays) }]);

  const fiveXx = phases.reduce(
    (sum, { result }) =>
      sum +
      Object.entries(result.statuses)
        .filter(([code]) => code >= "500")
        .reduce((s, [, n]) => s + n, 0),
    0,
  );
  return printChecks("Checks", [
    { name: "every product: initial − final = units sold", ok: ledger.length === 0, detail: ledger.slice(0, 3).join("; ") || `${initialStock.size} products` },
    { name: "no 5xx answers", ok: fiveXx === 0, detail: `${fiveXx}` },
    { name: "writes counted on the other replica within 1 s", ok: Math.max(...delays) < 1_000, detail: `max ${Math.max(...delays).toFixed(1)} ms` },
  ]);
});
