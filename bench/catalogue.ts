// npm run bench:catalogue — catalogue reads at several catalogue sizes, on PostgreSQL and on the
// embedded database: the service beside a bare baseline (node:http + pg, the same SQL) and
// beside its ceiling, pgbench running the same SQL on the same database (when pgbench is
// installed). The list is the reference's own workload: `?limit=5&keyword=red&max_price=5`.
// The service and the baseline run one after the other on the same database (the embedded one
// admits one process at a time), each warmed up first; compare their CPU µs per request.
// Env: BENCH_SIZES (default 100,1000,100000), BENCH_EMBEDDED_SIZES (default: BENCH_SIZES),
// BENCH_DATABASES (default postgres,embedded), BENCH_DURATION (seconds per measurement, default
// 10), BENCH_CONNECTIONS (default 32), BENCH_KEYWORD (default red), BENCH_MAX_PRICE (default 5),
// BENCH_WARMUP (seconds, default 2).
import { isDeepStrictEqual } from "node:util";
import { call, registerUsers } from "./lib/api.js";
import { benchDuration, describeProblems, randomInts, roundRobin, runLoad, WARMUP_SECONDS, type LoadResult, type RequestSpec } from "./lib/load.js";
import { benchDatabases, createBenchDatabase, type DatabaseKind } from "./lib/databases.js";
import { main, onCleanup, step } from "./lib/main.js";
import { seedProducts } from "./lib/postgres.js";
import { filterOf, byIdScript, pageScript, type PgbenchScript } from "./lib/catalogue-scripts.js";
import { findPgbench, runPgbench, type PgbenchResult } from "./lib/pgbench.js";
import { ceilingTable, printChecks, printTable, recordCeilings, statusSummary, type CeilingRow, type Check } from "./lib/report.js";
import { startNodeServer, type RunningServer } from "./lib/service.js";

const parseSizes = (text: string) => text.split(",").map((s) => Number(s.replace(/_/g, "")));
const sizes = parseSizes(process.env.BENCH_SIZES ?? "100,1000,100000");
const embeddedSizes = parseSizes(process.env.BENCH_EMBEDDED_SIZES ?? process.env.BENCH_SIZES ?? "100,1000,100000");
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const keyword = process.env.BENCH_KEYWORD ?? "red";
const QUERIES = ["keyword list", "get by id", "deep page"] as const;
type Query = (typeof QUERIES)[number];
const WORK: Record<Query, string> = { "keyword list": "keyword + max_price page", "get by id": "product by id", "deep page": "deep page (offset)" };
const LIST_LIMIT = 5;
const MAX_PRICE = process.env.BENCH_MAX_PRICE ?? "5";

interface Measurement extends LoadResult {
  database: DatabaseKind;
  size: number;
  query: Query;
  target: "service" | "baseline";
  /** CPU time of the server process per request (µs): steadier than req/s on a shared machine. */
  cpuUsPerRequest?: number;
}

/** The paths of each query for a catalogue with ids firstId..lastId. */
function queryPaths(size: number, firstId: number, lastId: number): Record<Query, () => string> {
  const random = randomInts(size);
  return {
    "keyword list": () => `/api/product/?keyword=${keyword}&max_price=${MAX_PRICE}&limit=${LIST_LIMIT}`,
    "get by id": () => `/api/product/${random(firstId, lastId)}`,
    "deep page": () => `/api/product/?limit=${LIST_LIMIT}&offset=${size - LIST_LIMIT}`,
  };
}

/**
 * The pgbench transactions: each query's SQL as a request sends it without the count cache
 * (the ceiling every share is taken of), and the keyword page alone (what a request sends while
 * its count is cached), for reference.
 */
function pgbenchScripts(
  size: number,
  firstId: number,
  lastId: number,
): { name: string; query?: Query; script: PgbenchScript; protocol: "extended" | "prepared" }[] {
  const byId = byIdScript(firstId, lastId);
  const keywordPage = pageScript(filterOf(keyword, MAX_PRICE), LIST_LIMIT, 0);
  return [
    { name: "get by id", query: "get by id", script: byId, protocol: "extended" },
    { name: "keyword list: count + page", query: "keyword list", script: keywordPage, protocol: "extended" },
    { name: "keyword list: page only", script: pageScript(filterOf(keyword, MAX_PRICE), LIST_LIMIT, 0, true), protocol: "extended" },
    {
      name: "deep page: count + page",
      query: "deep page",
      script: pageScript(filterOf(undefined, undefined), LIST_LIMIT, size - LIST_LIMIT),
      protocol: "extended",
    },
    // The service prepares its statements once per connection; pgbench doing the same, for reference.
    { name: "get by id (prepared)", script: byId, protocol: "prepared" },
    { name: "keyword list: count + page (prepared)", script: keywordPage, protocol: "prepared" },
  ];
}

interface PgbenchMeasurement extends PgbenchResult {
  database: DatabaseKind;
  size: number;
  name: string;
  query?: Query;
}

await main("bench:catalogue", async () => {
  if ([...sizes, ...embeddedSizes].some((n) => !Number.isSafeInteger(n) || n < 5 || n > 10_000_000))
    throw new Error(`BENCH_SIZES: 5..10000000 each, not ${sizes}`);
  const runs = benchDatabases().flatMap((database) => (database === "postgres" ? sizes : embeddedSizes).map((size) => ({ database, size })));
  const measurements: Measurement[] = [];
  const checks: Check[] = [];
  const matches: Record<string, string | number>[] = [];
  const ceilings: PgbenchMeasurement[] = [];
  const pgbench = findPgbench();
  if (!pgbench) console.log("pgbench not found (PostgreSQL's client tools are not installed, or set PGBENCH): no ceilings, the rest runs as usual");

  for (const { database, size } of runs) {
    const label = `[${database} ${size}]`;
    const db = await step(`${label} database + migrations`, () => createBenchDatabase(database, `catalogue_${size}`));
    const { firstId, lastId } = await step(`${label} seeding ${size} products`, () => db.withUrl((url) => seedProducts(url, size)));
    if (pgbench) {
      // On the embedded database this process serves PGlite itself while pgbench runs (the service is not up yet).
      await db.withUrl(async (url) => {
        for (const { name, query, script, protocol } of pgbenchScripts(size, firstId, lastId)) {
          const result = await step(`${label} pgbench ${name} (${benchDuration()} s)`, () =>
            runPgbench(pgbench, { url, ...script, clients: connections, durationSeconds: benchDuration(), protocol }),
          );
          ceilings.push({ database, size, name, query, ...result });
        }
      });
    }
    const paths = queryPaths(size, firstId, lastId);
    const answers = new Map<Query, Awaited<ReturnType<typeof call>>>();
    const measure = async (target: Measurement["target"], server: RunningServer, token: string | undefined) => {
      for (const query of QUERIES) {
        const path = query === "get by id" ? `/api/product/${lastId}` : paths[query]();
        const answer = await call(server.baseUrl, "GET", path, { token });
        if (target === "service") {
          answers.set(query, answer);
          if (query === "keyword list" && answer.status === 200)
            matches.push({
              database,
              size,
              keyword,
              [`matches (price ≤ ${MAX_PRICE})`]: answer.body.count,
              share: `${((100 * answer.body.count) / size).toFixed(2)} %`,
            });
          continue;
        }
        // Both must give the same answers before their speed is compared.
        const fromService = answers.get(query)!;
        const same = fromService.status === 200 && answer.status === 200 && isDeepStrictEqual(pick(fromService.body), pick(answer.body));
        checks.push({
          name: `${database} ${size}: ${query} same answer`,
          ok: same,
          detail: `service ${fromService.status}, baseline ${answer.status}${same ? "" : `: ${fromService.text.slice(0, 120)} vs ${answer.text.slice(0, 120)}`}`,
        });
      }
      const nextQuery = roundRobin([...QUERIES]);
      await step(`${label} warm-up → ${target} (${WARMUP_SECONDS} s)`, () =>
        runLoad({ baseUrl: server.baseUrl, connections, durationSeconds: WARMUP_SECONDS, next: () => ({ path: paths[nextQuery()](), token }) }),
      );
      for (const query of QUERIES) {
        const cpuBefore = await server.cpuSeconds();
        const result = await step(`${label} ${query} → ${target} (${benchDuration()} s)`, () =>
          runLoad({ baseUrl: server.baseUrl, connections, next: (): RequestSpec => ({ path: paths[query](), token }) }),
        );
        const cpuAfter = await server.cpuSeconds();
        const cpuUsPerRequest =
          cpuBefore !== undefined && cpuAfter !== undefined && result.requests > 0 ? ((cpuAfter - cpuBefore) * 1e6) / result.requests : undefined;
        measurements.push({ database, size, query, target, cpuUsPerRequest, ...result });
      }
    };

    // The service first, then the baseline: one at a time, so neither takes CPU from the other.
    const service = await step(`${label} starting service`, () => db.startService());
    onCleanup(async () => void (await service.stop()));
    const [user] = await registerUsers(service.baseUrl, 1);
    await measure("service", service, user!.token);
    await service.stop();
    const baseline = await step(`${label} starting baseline`, () => startNodeServer("bench/baseline-server.ts", { ...db.serverEnv, DB_POOL_MAX: "20" }));
    onCleanup(async () => void (await baseline.stop()));
    await measure("baseline", baseline, undefined);
    await baseline.stop();
  }

  printTable("Keyword selectivity", matches);
  printTable(
    `Catalogue reads (${connections} connections, ${benchDuration()} s each; latency in ms)`,
    measurements.map((m) => ({
      database: m.database,
      products: m.size,
      query: m.query,
      target: m.target,
      "req/s": m.rps,
      p50: m.p50,
      p99: m.p99,
      "CPU µs/req": m.cpuUsPerRequest === undefined ? "n/a" : Math.round(m.cpuUsPerRequest),
      requests: m.requests,
      statuses: statusSummary(m.statuses),
      errors: m.errors,
    })),
  );
  const find = (database: DatabaseKind, size: number, query: Query, target: Measurement["target"]) =>
    measurements.find((m) => m.database === database && m.size === size && m.query === query && m.target === target);
  const ratio = (database: DatabaseKind, size: number, query: Query) =>
    find(database, size, query, "service")!.rps / find(database, size, query, "baseline")!.rps;
  const cpuRatio = (database: DatabaseKind, size: number, query: Query) =>
    find(database, size, query, "baseline")!.cpuUsPerRequest! / find(database, size, query, "service")!.cpuUsPerRequest!;
  const postgresSizes = runs.filter((r) => r.database === "postgres").map((r) => r.size);
  printTable(
    `pgbench, same SQL (${connections} clients; shares are of the extended-protocol figures, the issue's ceiling; latency in ms)`,
    ceilings.map((c) => ({ database: c.database, products: c.size, transaction: c.name, tps: Math.round(c.tps), p50: c.p50, p99: c.p99, failed: c.failed })),
  );
  const ceilingRows: CeilingRow[] = runs.flatMap(({ database, size }) =>
    QUERIES.map((query) => ({
      work: WORK[query],
      database,
      products: size,
      pgbenchTps: ceilings.find((c) => c.database === database && c.size === size && c.query === query)?.tps,
      baselineRps: find(database, size, query, "baseline")?.rps,
      serviceRps: find(database, size, query, "service")!.rps,
      p99: find(database, size, query, "service")!.p99,
      serviceCpuUs: find(database, size, query, "service")!.cpuUsPerRequest,
      baselineCpuUs: find(database, size, query, "baseline")?.cpuUsPerRequest,
    })),
  );
  printTable("Against the ceiling: service as a share of pgbench on the same SQL, and beside the bare node:http + pg server", ceilingTable(ceilingRows));
  await recordCeilings(ceilingRows);
  printTable(
    "Service / baseline: throughput, and CPU per request (baseline µs / service µs: steadier on a shared machine)",
    runs.flatMap(({ database, size }) =>
      QUERIES.map((query) => ({
        database,
        products: size,
        query,
        "req/s ratio": `${(100 * ratio(database, size, query)).toFixed(0)} %`,
        "CPU ratio": `${(100 * cpuRatio(database, size, query)).toFixed(0)} %`,
      })),
    ),
  );
  printTable(
    "Service on the embedded database / on PostgreSQL",
    runs
      .filter((r) => r.database === "embedded")
      .flatMap(({ size }) =>
        QUERIES.map((query) => {
          const [embedded, postgres] = [find("embedded", size, query, "service"), find("postgres", size, query, "service")];
          return {
            products: size,
            query,
            "embedded req/s": embedded?.rps,
            "PostgreSQL req/s": postgres?.rps,
            ratio: embedded && postgres ? `${((100 * embedded.rps) / postgres.rps).toFixed(0)} %` : "n/a",
          };
        }),
      ),
  );

  const floors: Check[] = [];
  const [smallest, largest] = [Math.min(...postgresSizes), Math.max(...postgresSizes)];
  if (largest > smallest) {
    const [small, large] = [find("postgres", smallest, "keyword list", "service")!.p50, find("postgres", largest, "keyword list", "service")!.p50];
    floors.push({
      name: `keyword list p50 at ${largest} ≤ 3× p50 at ${smallest}`,
      ok: large <= 3 * small,
      detail: `${large} ms vs ${small} ms (${(large / small).toFixed(1)}×)`,
    });
  }
  for (const { database, size } of runs) {
    for (const query of QUERIES) {
      const floor = query === "deep page" ? 0.9 : 1;
      const r = ratio(database, size, query);
      floors.push({ name: `${database} ${size}: service ≥ ${floor}× baseline on ${query}`, ok: r >= floor, detail: `${(100 * r).toFixed(0)} %` });
    }
  }
  for (const row of ceilingRows.filter((r) => r.pgbenchTps && r.work !== WORK["deep page"])) {
    const part = row.serviceRps / row.pgbenchTps!;
    floors.push({ name: `${row.database} ${row.products}: ${row.work} ≥ 35 % of pgbench`, ok: part >= 0.35, detail: `${(100 * part).toFixed(0)} %` });
  }
  printChecks("Performance floors (informational: a miss does not fail the run)", floors);

  for (const m of measurements) {
    checks.push({
      name: `${m.database} ${m.size}: ${m.query} → ${m.target} all 2xx`,
      ok: m.non2xx === 0 && m.errors === 0 && m.requests > 0,
      detail: `${m.requests} requests, ${m.non2xx} non-2xx, ${m.errors} errors${m.non2xx ? `: ${describeProblems(m.problems)}` : ""}`,
    });
  }
  return printChecks("Correctness", checks);
});

/** What both servers must agree on: the whole product, or a page's count and results. */
function pick(body: any): unknown {
  return body && "results" in body ? { count: body.count, results: body.results } : body;
}
