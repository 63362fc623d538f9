// npm run bench:orders — placing orders on PostgreSQL and on the embedded database: (a) spread
// over many products, (b) every client on one hot product with less stock than the demand; then
// checks that nothing was oversold. Env: BENCH_DATABASES (default postgres,embedded) and:
// Env: BENCH_DURATION (seconds per phase, default 10), BENCH_CONNECTIONS (32), BENCH_USERS (32),
// BENCH_HOT_STOCK (units of the hot product, default 1000).
import { adminToken, expect, registerUsers } from "./lib/api.js";
import { benchDuration, describeProblems, WARMUP_SECONDS, randomInts, randomOrder, roundRobin, runLoad, type LoadResult } from "./lib/load.js";
import { benchDatabases, createBenchDatabase, type BenchDatabase } from "./lib/databases.js";
import { main, onCleanup, step } from "./lib/main.js";
import { orderTotalErrors, seedProducts, sql, stockById, stockLedgerErrors, waitForQuiet } from "./lib/postgres.js";
import { printChecks, printTable, type Check, type Row } from "./lib/report.js";

const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const userCount = Number(process.env.BENCH_USERS ?? 32);
const hotStock = Number(process.env.BENCH_HOT_STOCK ?? 1_000);
const SPREAD_PRODUCTS = 1_000;

await main("bench:orders", async () => {
  const rows: Row[] = [];
  const checks: Check[] = [];
  for (const kind of benchDatabases()) {
    const db = await step(`[${kind}] database + migrations`, () => createBenchDatabase(kind, "orders"));
    const result = await benchOrders(db);
    rows.push(...result.rows);
    checks.push(...result.checks);
  }
  printTable("Orders (latency in ms)", rows);
  return printChecks("Oversell check", checks);
});

async function benchOrders(db: BenchDatabase): Promise<{ rows: Row[]; checks: Check[] }> {
  const label = `[${db.kind}]`;
  const { firstId, lastId } = await step(`${label} seeding ${SPREAD_PRODUCTS} products`, () =>
    db.withUrl((url) => seedProducts(url, SPREAD_PRODUCTS, 1_000_000)),
  );
  const seededStock = await db.withUrl(stockById);
  const service = await step(`${label} starting service`, () => db.startService());
  onCleanup(async () => void (await service.stop()));
  const hot = await expect<{ id: number }>(201, service.baseUrl, "POST", "/api/product/", {
    token: await adminToken(service.baseUrl),
    body: { name: "Hot Deal Green Tea 20-pack", price: "3.990", stock: hotStock },
  });
  const initialStock = new Map([...seededStock, [hot.id, hotStock]]);
  const users = await step(`${label} registering and logging in ${userCount} users`, () => registerUsers(service.baseUrl, userCount));
  const nextToken = roundRobin(users.map((u) => u.token));
  const random = randomInts(7);
  const spreadIds = Array.from({ length: lastId - firstId + 1 }, (_, i) => firstId + i);
  // Requests in flight when a phase stopped finish before the next one on PostgreSQL; the
  // embedded database cannot be watched from here while the service runs (they finish in ms).
  const settle = () => (db.url ? waitForQuiet(db.url) : Promise.resolve());

  const phases: { name: string; result: LoadResult }[] = [];
  const phase = async (name: string, body: () => unknown) => {
    const result = await step(`${label} ${name} (${benchDuration()} s, ${connections} connections)`, () =>
      runLoad({ baseUrl: service.baseUrl, connections, next: () => ({ method: "POST", path: "/api/order/", token: nextToken(), body: body() }) }),
    );
    phases.push({ name, result });
    await settle();
  };
  const warmUp = await step(`${label} warm-up (${WARMUP_SECONDS} s)`, () =>
    runLoad({
      baseUrl: service.baseUrl,
      connections,
      durationSeconds: WARMUP_SECONDS,
      next: () => ({ method: "POST", path: "/api/order/", token: nextToken(), body: randomOrder(random, spreadIds) }),
    }),
  );
  await settle();
  await phase("(a) 1–3 of 1000 products", () => randomOrder(random, spreadIds));
  await phase("(b) one hot product", () => ({ products: [{ id: hot.id, quantity: random(1, 3) }] }));
  await service.stop();

  const rows = phases.map(({ name, result }) => ({
    database: db.kind,
    phase: name,
    "req/s": result.rps,
    "orders/s": (result.statuses["201"] ?? 0) / benchDuration(),
    p50: result.p50,
    p99: result.p99,
    "201s": result.statuses["201"] ?? 0,
    "400s": result.statuses["400"] ?? 0,
    others: result.requests - (result.statuses["201"] ?? 0) - (result.statuses["400"] ?? 0),
    errors: result.errors,
    "non-2xx by code": describeProblems(result.problems, false) || "-",
  }));

  return db.withUrl(async (url) => {
    const [hotRow] = await sql<{ stock: number; sold: string | null }>(
      url,
      "SELECT p.stock, (SELECT sum(quantity) FROM order_items WHERE product_id = p.id) AS sold FROM products p WHERE p.id = $1",
      [hot.id],
    );
    const hotSold = Number(hotRow!.sold ?? 0);
    const ledger = await stockLedgerErrors(url, initialStock);
    const totals = await orderTotalErrors(url);
    const placed = totals.orders;
    const loads = [warmUp, ...phases.map((p) => p.result)];
    const created = loads.reduce((sum, r) => sum + (r.statuses["201"] ?? 0), 0);
    const unexpected = phases
      .map((p) => describeProblems(Object.fromEntries(Object.entries(p.result.problems).filter(([key]) => key !== "400 insufficient-stock"))))
      .filter(Boolean);
    const fiveXx = loads.reduce(
      (sum, r) =>
        sum +
        Object.entries(r.statuses)
          .filter(([code]) => code >= "500")
          .reduce((s, [, n]) => s + n, 0),
      0,
    );
    const checks: Check[] = [
      {
        name: "hot product: units sold = initial − final stock",
        ok: hotSold === hotStock - hotRow!.stock,
        detail: `sold ${hotSold}, initial ${hotStock}, final ${hotRow!.stock}`,
      },
      { name: "hot product: final stock ≥ 0", ok: hotRow!.stock >= 0, detail: `final ${hotRow!.stock}` },
      {
        name: "hot product: stock-outs occurred",
        ok: (phases[1]!.result.problems["400 insufficient-stock"]?.count ?? 0) > 0,
        detail: `${phases[1]!.result.problems["400 insufficient-stock"]?.count ?? 0} answers 400 insufficient-stock`,
      },
      {
        name: "every product: initial − final = units sold",
        ok: ledger.length === 0,
        detail: ledger.length ? ledger.slice(0, 3).join("; ") : `${initialStock.size} products`,
      },
      // Requests in flight when a load stopped were placed but their answers never read.
      {
        name: "201 answers ≤ orders in the database ≤ 201s + in flight",
        ok: created <= placed && placed <= created + connections * loads.length,
        detail: `${created} answers, ${placed} rows`,
      },
      { name: "order totals = sum of lines", ok: totals.bad.length === 0, detail: totals.bad.slice(0, 3).join("; ") || `${totals.orders} orders` },
      { name: "no 5xx", ok: fiveXx === 0, detail: `${fiveXx}` },
      {
        name: "only insufficient-stock declines, no connection errors",
        ok: unexpected.length === 0 && loads.every((r) => r.errors === 0),
        detail: unexpected.join("; ") || "none",
      },
    ];
    return { rows, checks: checks.map((c) => ({ ...c, name: `${db.kind}: ${c.name}` })) };
  });
}
