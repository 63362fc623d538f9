// npm run soak -- --minutes 10 (or SOAK_MINUTES; default 1) — a mixed workload on PostgreSQL:
// shoppers browse and order, some clients log in, an admin creates, reprices and restocks
// products. Prints throughput, latency and statuses per operation and the service's memory over
// time; then checks every product's stock ledger and every order's total against the database.
import { parseArgs } from "node:util";
import { adminToken, call, expect, metric, registerUsers, type BenchUser } from "./lib/api.js";
import { problemCode, randomInts, randomOrder, roundRobin } from "./lib/load.js";
import { main, startCluster, startServiceFor, step } from "./lib/main.js";
import { createMigratedDatabase, ITEMS, orderTotalErrors, seedProducts, stockById, stockLedgerErrors, waitForQuiet } from "./lib/postgres.js";
import { mib, printChecks, printTable, statusSummary, summarize, type Row } from "./lib/report.js";

const { values: args } = parseArgs({ options: { minutes: { type: "string" } } });
const minutes = Number(args.minutes ?? process.env.SOAK_MINUTES ?? 1);
const SHOPPERS = 16;
const LOGIN_CLIENTS = 2;
const USERS = 32;
const CATALOGUE = 10_000;
const HOT_PRODUCTS = 5;
const HOT_STOCK = 20;
const RESTOCK_UNITS = 20;
const MAX_REQUESTS_PER_WORKER = 5_000_000;

/** Latencies and statuses per operation; an answer is ok when its status is the expected one. */
class Recorder {
  readonly ops = new Map<string, { ms: number[]; statuses: Record<string, number>; failures: number }>();
  record(op: string, status: string, ms: number, ok: boolean): void {
    const entry = this.ops.get(op) ?? { ms: [], statuses: {}, failures: 0 };
    this.ops.set(op, entry);
    entry.ms.push(ms);
    entry.statuses[status] = (entry.statuses[status] ?? 0) + 1;
    if (!ok) entry.failures++;
  }
}

await main("soak", async () => {
  if (!(minutes > 0 && minutes <= 120)) throw new Error(`--minutes / SOAK_MINUTES: 0..120, not ${minutes}`);
  const cluster = await startCluster();
  const databaseUrl = await step("database + migrations", () => createMigratedDatabase(cluster, "soak"));
  await step(`seeding ${CATALOGUE} products`, () => seedProducts(databaseUrl, CATALOGUE, 100_000));
  const service = await step("starting service", () => startServiceFor(databaseUrl, { ACCESS_TOKEN_TTL_SECONDS: String(24 * 3600) }));
  const admin = await adminToken(service.baseUrl);
  const hotIds: number[] = [];
  for (let i = 0; i < HOT_PRODUCTS; i++) {
    const body = { name: `Soak Hot Item ${i}`, price: "9.990", stock: HOT_STOCK };
    hotIds.push((await expect<{ id: number }>(201, service.baseUrl, "POST", "/api/product/", { token: admin, body })).id);
  }
  const users = await step(`registering and logging in ${USERS} users`, () => registerUsers(service.baseUrl, USERS, "soak"));
  const initialStock = await stockById(databaseUrl);
  const productIds = [...initialStock.keys()].filter((id) => !hotIds.includes(id));
  const restocked = new Map<number, number>();
  const uncertain = new Set<number>(); // restocks whose outcome is unknown (no answer)
  const recorder = new Recorder();

  const endAt = Date.now() + minutes * 60_000;
  const memory: Row[] = [];
  const sampleMemory = async (label: string) => {
    memory.push({
      at: label,
      process_resident_memory_bytes: mib(await metric(service.baseUrl, "process_resident_memory_bytes")),
      "VmRSS (/proc)": mib(await service.rssBytes()),
    });
  };
  await sampleMemory("start");

  /** One timed request, recorded under `op`; `ok` decides which statuses are expected. */
  const timed = async (
    op: string,
    method: string,
    path: string,
    ok: (status: number, text: string) => boolean,
    options: { token?: string; body?: unknown } = {},
  ) => {
    const started = performance.now();
    try {
      const answer = await call(service.baseUrl, method, path, options);
      recorder.record(op, String(answer.status), answer.ms, ok(answer.status, answer.text));
      return answer;
    } catch (error) {
      recorder.record(op, (error as Error).name, performance.now() - started, false);
      return undefined;
    }
  };

  const worker = async (seed: number, body: (random: (min: number, max: number) => number) => Promise<void>) => {
    const random = randomInts(seed);
    for (let n = 0; n < MAX_REQUESTS_PER_WORKER && Date.now() < endAt; n++) await body(random);
  };
  const nextUser = roundRobin(users);
  const is = (expected: number) => (status: number) => status === expected;
  const orderOk = (status: number, text: string) => status === 201 || (status === 400 && problemCode(text) === "insufficient-stock");

  const shopper = (user: BenchUser) => async (random: (min: number, max: number) => number) => {
    const dice = random(1, 100);
    if (dice <= 45) {
      const keyword = ITEMS[random(0, ITEMS.length - 1)]!.split(" ")[0]!.toLowerCase();
      await timed("list (keyword, max_price)", "GET", `/api/product/?keyword=${keyword}&max_price=${random(5, 100)}&limit=${random(1, 20)}`, is(200), {
        token: user.token,
      });
    } else if (dice <= 70) {
      await timed("get by id", "GET", `/api/product/${productIds[random(0, productIds.length - 1)]}`, is(200), { token: user.token });
    } else if (dice <= 95) {
      // A third of the orders include a hot product, which keeps running out and being restocked.
      const order = randomOrder(random, productIds);
      if (random(1, 3) === 1) order.products[0] = { id: hotIds[random(0, hotIds.length - 1)]!, quantity: random(1, 3) };
      await timed("order", "POST", "/api/order/", orderOk, { token: user.token, body: order });
    } else {
      await timed("list own orders", "GET", "/api/order/?limit=10", is(200), { token: user.token });
    }
  };

  const loginClient = async (random: (min: number, max: number) => number) => {
    const user = users[random(0, users.length - 1)]!;
    await timed("login", "POST", "/api/token/", is(200), { body: { name: user.name, password: user.password } });
  };

  let created = 0;
  const adminClient = async (random: (min: number, max: number) => number) => {
    const dice = random(1, 10);
    if (dice <= 2) {
      const body = { name: `Soak New Product ${created++}`, price: `${random(1, 99)}.${random(0, 999)}`, stock: random(0, 50) };
      const answer = await timed("admin: create product", "POST", "/api/product/", is(201), { token: admin, body });
      if (answer?.status === 201) productIds.push(answer.body.id); // its stock counts as 0 initial + added
      if (answer?.status === 201) restocked.set(answer.body.id, body.stock);
    } else if (dice <= 5) {
      const id = productIds[random(0, productIds.length - 1)]!;
      await timed("admin: reprice", "PATCH", `/api/product/${id}`, is(200), { token: admin, body: { price: `${random(1, 99)}.${random(0, 99)}` } });
    } else {
      // Restock a hot product only when it is sold out: orders cannot change a stock of 0, and
      // this is the only client setting stocks, so "0 → RESTOCK_UNITS" adds exactly that many.
      const id = hotIds[random(0, hotIds.length - 1)]!;
      const current = await timed("admin: read stock", "GET", `/api/product/${id}`, is(200), { token: admin });
      if (current?.status !== 200 || current.body.stock !== 0) return;
      const answer = await timed("admin: restock", "PATCH", `/api/product/${id}`, is(200), { token: admin, body: { stock: RESTOCK_UNITS } });
      if (answer?.status === 200) restocked.set(id, (restocked.get(id) ?? 0) + RESTOCK_UNITS);
      else uncertain.add(id);
    }
  };

  const sampleEveryMs = Math.max(10_000, (minutes * 60_000) / 10);
  const sampler = (async () => {
    for (let i = 1; Date.now() + sampleEveryMs < endAt && i <= 1_000; i++) {
      await new Promise((resolve) => setTimeout(resolve, sampleEveryMs));
      await sampleMemory(`${((i * sampleEveryMs) / 1000).toFixed(0)} s`);
    }
  })();
  const started = performance.now();
  await step(`mixed load for ${minutes} min (${SHOPPERS} shoppers, ${LOGIN_CLIENTS} login clients, 1 admin)`, () =>
    Promise.all([
      ...Array.from({ length: SHOPPERS }, (_, i) => worker(100 + i, shopper(nextUser()))),
      ...Array.from({ length: LOGIN_CLIENTS }, (_, i) => worker(200 + i, loginClient)),
      worker(300, adminClient),
      sampler,
    ]),
  );
  const seconds = (performance.now() - started) / 1000;
  await waitForQuiet(databaseUrl);
  await sampleMemory("end");

  const rows = [...recorder.ops].map(([op, { ms, statuses, failures }]) => {
    const s = summarize(ms);
    return { operation: op, requests: s.n, "req/s": s.n / seconds, p50: s.p50, p99: s.p99, statuses: statusSummary(statuses), unexpected: failures };
  });
  const all = [...recorder.ops.values()];
  const total = summarize(all.flatMap((e) => e.ms));
  rows.push({
    operation: "all",
    requests: total.n,
    "req/s": total.n / seconds,
    p50: total.p50,
    p99: total.p99,
    statuses: "",
    unexpected: all.reduce((s, e) => s + e.failures, 0),
  });
  printTable(`Soak: ${minutes} min, ${seconds.toFixed(0)} s of load (latency in ms)`, rows);
  printTable("Service memory", memory);

  const ledger = await stockLedgerErrors(databaseUrl, initialStock, restocked);
  const ledgerErrors = ledger.filter((line) => !uncertain.has(Number(/product (\d+)/.exec(line)?.[1])));
  const totals = await orderTotalErrors(databaseUrl);
  const serverErrors = all.reduce(
    (sum, e) =>
      sum +
      Object.entries(e.statuses)
        .filter(([code]) => !/^[1-4]\d\d$/.test(code))
        .reduce((s, [, n]) => s + n, 0),
    0,
  );
  console.log(
    `\n  restocks: ${
      [...restocked]
        .filter(([id]) => hotIds.includes(id))
        .map(([id, n]) => `product ${id} +${n}`)
        .join(", ") || "none"
    }; products created: ${created}`,
  );
  return printChecks("Consistency (from the database)", [
    {
      name: "every product: initial + restocked − final = units sold",
      ok: ledgerErrors.length === 0,
      detail:
        ledgerErrors.slice(0, 3).join("; ") ||
        `${(await stockById(databaseUrl)).size} products${uncertain.size ? `, ${uncertain.size} with an unanswered restock not checked` : ""}`,
    },
    { name: "every order: total = sum of line totals", ok: totals.bad.length === 0, detail: totals.bad.slice(0, 3).join("; ") || `${totals.orders} orders` },
    { name: "no 5xx and no transport errors", ok: serverErrors === 0, detail: String(serverErrors) },
  ]);
});
