// npm run bench:read-replica — catalogue reads with a read replica (DATABASE_READ_URL: a hot
// standby streaming from the primary) against without: one PostgreSQL primary, one streaming
// replica, 1,000 products, and two service processes on the same database, one with
// DATABASE_READ_URL and one without, loaded in turn (alternating rounds). Readers are distinct
// users reading closed-loop (autocannon): keyword + max_price lists, products by id, a deep page.
// Meanwhile an admin updates products (PATCH stock_delta) and reads each one back at once, so
// read-your-writes routing is exercised: that read must show the write. Every answer is checked.
// Printed: reads/s and p50/p99 each way, and the primary's share of reads, from the service's
// own routing counter (db_reads_total{target}) and from each node's transaction counter
// (pg_stat_database.xact_commit; the replica's includes the lag check, two a second, and the
// primary's the admin's writes and the services' background jobs).
// Env: BENCH_DURATION (seconds per round, default 10), BENCH_ROUNDS (rounds per setup, default 2),
// BENCH_CONNECTIONS (readers' connections, default 32), BENCH_USERS (distinct readers, default 32),
// BENCH_WRITE_PAUSE_MS (the admin's pause between updates, default 50), BENCH_WARMUP (seconds, default 2).
import { availableParallelism } from "node:os";
import { isDeepStrictEqual } from "node:util";
import { startStandby } from "../support/postgres-cluster.js";
import { adminToken, expect, metric, registerUsers } from "./lib/api.js";
import { benchDuration, describeProblems, randomInts, roundRobin, runLoad, WARMUP_SECONDS, type LoadResult, type RequestSpec } from "./lib/load.js";
import { main, onCleanup, startCluster, startServiceFor, step } from "./lib/main.js";
import { createMigratedDatabase, seedProducts, sql } from "./lib/postgres.js";
import { printChecks, printTable, type Check } from "./lib/report.js";
import type { RunningServer } from "./lib/service.js";

const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const userCount = Number(process.env.BENCH_USERS ?? 32);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const writePauseMs = Number(process.env.BENCH_WRITE_PAUSE_MS ?? 50);
const PRODUCTS = 1_000;
const DATABASE = "read_replica";
const LIST_LIMIT = 5;
/** Keyword + max_price lists the readers ask for (words of bench/lib/postgres.ts's product names). */
const LISTS = ["red", "tea", "soap", "green", "coffee"].flatMap((keyword) => ["5", "50"].map((maxPrice) => ({ keyword, maxPrice })));
const DEEP_OFFSET = PRODUCTS - LIST_LIMIT;

interface Product {
  id: number;
  name: string;
  price: string;
  stock: number;
  created_at: string;
  updated_at: string;
}
interface ProductPage {
  count: number;
  next: string | null;
  previous: string | null;
  results: Product[];
}

/** What must not change while the admin updates stock: everything but `stock` and `updated_at`. */
const fixedPart = ({ id, name, price, created_at }: Product) => ({ id, name, price, created_at });
/** A page without what the admin's updates change, and its links without the server's address (the two services differ). */
const pagePart = (page: ProductPage) => ({
  count: page.count,
  next: page.next && new URL(page.next, "http://x").search,
  previous: page.previous && new URL(page.previous, "http://x").search,
  results: page.results.map(fixedPart),
});

interface Round {
  setup: Setup;
  result: LoadResult;
  reads: { primary: number; replica: number };
  xacts: { primary: number; replica: number };
  writes: number;
  writerReads: number;
}
type Setup = "primary only" | "with replica";

await main("bench:read-replica", async () => {
  const cluster = await startCluster();
  const primaryUrl = await step("database + migrations", () => createMigratedDatabase(cluster, DATABASE));
  const { firstId, lastId } = await step(`seeding ${PRODUCTS} products`, () => seedProducts(primaryUrl, PRODUCTS, 1_000_000));
  const standby = await step("streaming replica (pg_basebackup, hot standby)", () => startStandby(cluster.url));
  onCleanup(() => standby.stop());
  const replicaUrl = new URL(standby.url);
  replicaUrl.pathname = `/${DATABASE}`;
  const services: Record<Setup, RunningServer> = {
    "primary only": await step("service without DATABASE_READ_URL", () => startServiceFor(primaryUrl)),
    "with replica": await step("service with DATABASE_READ_URL", () => startServiceFor(primaryUrl, { DATABASE_READ_URL: replicaUrl.toString() })),
  };
  const readers = await step(`registering and logging in ${userCount} readers`, () => registerUsers(services["primary only"].baseUrl, userCount, "reader"));
  await step("replica serving reads", () => untilReplicaServes(services["with replica"].baseUrl, readers[0]!.token));

  // What every answer is checked against: the products as seeded (by id), and each list as the
  // primary-only service answers it at rest (the admin's updates change only stock and updated_at).
  const seeded = new Map(
    (await sql<{ id: number; name: string }>(primaryUrl, "SELECT id, name FROM products WHERE id BETWEEN $1 AND $2", [firstId, lastId])).map((p) => [
      p.id,
      p.name,
    ]),
  );
  const lists = [
    ...LISTS.map(({ keyword, maxPrice }) => `/api/product/?keyword=${keyword}&max_price=${maxPrice}&limit=${LIST_LIMIT}`),
    `/api/product/?limit=${LIST_LIMIT}&offset=${DEEP_OFFSET}`,
  ];
  const expectedPages = new Map<string, ReturnType<typeof pagePart>>();
  for (const path of lists)
    expectedPages.set(path, pagePart(await expect<ProductPage>(200, services["primary only"].baseUrl, "GET", path, { token: readers[0]!.token })));
  const deep = expectedPages.get(lists.at(-1)!)!;
  if (deep.count !== PRODUCTS || deep.results.length !== LIST_LIMIT) throw new Error(`the deep page is not the catalogue's last ${LIST_LIMIT} of ${PRODUCTS}`);
  if (![...expectedPages.values()].some((page) => page.count > 0)) throw new Error("every keyword list is empty: pick keywords the seeded names contain");

  const nextToken = roundRobin(readers.map((user) => user.token));
  const random = randomInts(7);
  const next = (): RequestSpec => {
    const pick = random(0, 9);
    // Half by id, the rest spread over the lists (the deep page among them).
    const path = pick < 5 ? `/api/product/${random(firstId, lastId)}` : lists[random(0, lists.length - 1)]!;
    return { path, token: nextToken() };
  };
  const check = (spec: RequestSpec, status: number, body: string): string | undefined => {
    if (status !== 200) return `status ${status}`;
    const answer = JSON.parse(body);
    const expectedPage = expectedPages.get(spec.path);
    if (expectedPage) return isDeepStrictEqual(pagePart(answer), expectedPage) ? undefined : `not the page expected: ${body.slice(0, 200)}`;
    const id = Number(spec.path.split("/")[3]);
    const product = answer as Product;
    if (product.id !== id || product.name !== seeded.get(id) || !Number.isInteger(product.stock) || product.stock < 0)
      return `not product ${id}: ${body.slice(0, 200)}`;
    return undefined;
  };

  const admin = { "primary only": await adminToken(services["primary only"].baseUrl), "with replica": await adminToken(services["with replica"].baseUrl) };
  const measured: Round[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const setup of ["primary only", "with replica"] as const) {
      const { baseUrl } = services[setup];
      const load = (durationSeconds?: number) => runLoad({ baseUrl, connections, durationSeconds, next, check });
      await step(`warm-up ${setup} (${WARMUP_SECONDS} s)`, () => load(WARMUP_SECONDS));
      const before = await counters(baseUrl, primaryUrl, replicaUrl.toString());
      const writer = adminWrites(baseUrl, admin[setup], random, firstId, lastId);
      const result = await step(`round ${round}, ${setup} (${benchDuration()} s, ${connections} connections)`, () => load());
      const written = await writer.stop();
      const after = await counters(baseUrl, primaryUrl, replicaUrl.toString());
      measured.push({
        setup,
        result,
        reads: { primary: after.reads.primary - before.reads.primary, replica: after.reads.replica - before.reads.replica },
        // Less the one SELECT of ours that `before` ran on each node.
        xacts: { primary: after.xacts.primary - before.xacts.primary - 1, replica: after.xacts.replica - before.xacts.replica - 1 },
        ...written,
      });
    }
  }

  const share = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)} %` : "n/a");
  printTable(
    `Catalogue reads, ${connections} connections of ${userCount} readers, while an admin updates products (latency in ms)`,
    measured.map((m, i) => ({
      round: Math.floor(i / 2) + 1,
      setup: m.setup,
      "reads/s": (m.result.statuses["200"] ?? 0) / benchDuration(),
      p50: m.result.p50,
      p99: m.result.p99,
      "admin writes": m.writes,
      // Without DATABASE_READ_URL the service does not count where reads go: all are the primary's.
      "primary's share (routing)": m.setup === "primary only" ? "100 % (all)" : share(m.reads.primary, m.reads.primary + m.reads.replica),
      "primary's share (xacts)": share(m.xacts.primary, m.xacts.primary + m.xacts.replica),
      "xacts primary/replica": `${m.xacts.primary}/${m.xacts.replica}`,
      wrong: m.result.wrong,
      "non-200": m.result.requests - (m.result.statuses["200"] ?? 0),
    })),
  );
  const total = (setup: Setup) => {
    const rows = measured.filter((m) => m.setup === setup);
    return rows.reduce((sum, m) => sum + (m.result.statuses["200"] ?? 0), 0) / (rows.length * benchDuration());
  };
  const [without, withReplica] = [total("primary only"), total("with replica")];
  printTable("Summary", [
    { setup: "primary only", "reads/s (all rounds)": without },
    { setup: "with replica", "reads/s (all rounds)": withReplica, "against primary only": `${(withReplica / without).toFixed(2)}×` },
  ]);
  console.log(`
What this can show: that reads move to the replica (the primary's share), that every answer is
right while they do, that the admin reads its own writes, and the cost or gain of the routing on
this machine. What it cannot show: the throughput a replica adds in production. Here the primary,
the replica, both services and the load generator share ${availableParallelism()} cores, so a read
served by the replica takes CPU from the primary's own (and a second PostgreSQL instance competes
for the same cores and caches): the replica's gain appears only where it has a machine of its own.`);

  const wrongAnswers = measured.flatMap((m) => m.result.firstWrong);
  const notOk = measured.reduce((sum, m) => sum + m.result.requests - (m.result.statuses["200"] ?? 0), 0);
  const withRows = measured.filter((m) => m.setup === "with replica");
  const checks: Check[] = [
    {
      name: "every read answered 200",
      ok: notOk === 0,
      detail:
        measured
          .map((m) => describeProblems(m.result.problems, false))
          .filter(Boolean)
          .join("; ") || `${measured.reduce((s, m) => s + m.result.requests, 0)} reads`,
    },
    {
      name: "every read answered right",
      ok: measured.every((m) => m.result.wrong === 0),
      detail: wrongAnswers.join("; ") || `${measured.reduce((s, m) => s + m.result.requests, 0)} checked`,
    },
    {
      name: "the admin read each of its writes back",
      ok: measured.every((m) => m.writerReads === m.writes && m.writes > 0),
      detail: `${measured.reduce((s, m) => s + m.writes, 0)} writes, each read back at once`,
    },
    {
      name: "with the replica, most reads left the primary",
      ok: withRows.every((m) => m.reads.replica > m.reads.primary),
      detail: withRows.map((m) => `${m.reads.replica} replica / ${m.reads.primary} primary`).join("; "),
    },
    {
      name: "without it, every read on the primary",
      ok: measured.filter((m) => m.setup === "primary only").every((m) => m.reads.replica === 0),
      detail: 'db_reads_total{target="replica"} unchanged',
    },
  ];
  return printChecks("Checks", checks);
});

/** Until a reader's read is served by the replica (it answers and is within the allowed lag). */
async function untilReplicaServes(baseUrl: string, token: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (((await metric(baseUrl, 'db_reads_total{target="replica"}')) ?? 0) === 0) {
    if (Date.now() > deadline) throw new Error("the service never read from the replica");
    await expect(200, baseUrl, "GET", "/api/product/?limit=1", { token });
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The service's routed reads and both nodes' committed transactions on the bench database. */
async function counters(baseUrl: string, primaryUrl: string, replicaUrl: string) {
  // PostgreSQL publishes a backend's counters within a second of its transactions.
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  const xacts = async (url: string) =>
    Number((await sql<{ n: string }>(url, "SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()"))[0]!.n);
  const [primary, replica, routedPrimary, routedReplica] = await Promise.all([
    xacts(primaryUrl),
    xacts(replicaUrl),
    metric(baseUrl, 'db_reads_total{target="primary"}'),
    metric(baseUrl, 'db_reads_total{target="replica"}'),
  ]);
  return { reads: { primary: routedPrimary ?? 0, replica: routedReplica ?? 0 }, xacts: { primary, replica } };
}

/**
 * The admin's light write load: a product's stock moved by one, then read back at once, which
 * must show the write (read-your-writes: the writer's reads go to the primary), until stopped.
 */
function adminWrites(baseUrl: string, token: string, random: (min: number, max: number) => number, firstId: number, lastId: number) {
  let stopping = false;
  let writes = 0;
  let writerReads = 0;
  const loop = (async () => {
    while (!stopping) {
      const id = random(firstId, lastId);
      const delta = random(0, 1) === 0 ? 1 : -1;
      const written = await expect<Product>(200, baseUrl, "PATCH", `/api/product/${id}`, { token, body: { stock_delta: delta } });
      writes++;
      const read = await expect<Product>(200, baseUrl, "GET", `/api/product/${id}`, { token });
      if (read.stock !== written.stock) throw new Error(`the admin wrote stock ${written.stock} to product ${id} and read ${read.stock} back`);
      writerReads++;
      await new Promise((resolve) => setTimeout(resolve, writePauseMs));
    }
  })();
  loop.catch(() => {}); // its failure is thrown by stop()
  return {
    async stop() {
      stopping = true;
      await loop;
      return { writes, writerReads };
    },
  };
}
