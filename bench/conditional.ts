// npm run bench:conditional — what a conditional GET saves: the same product (and the same list
// page) read with an If-None-Match that matches (304, no body) and without one (200), on
// PostgreSQL and on the embedded database.
// Env: BENCH_DATABASES (default postgres,embedded), BENCH_PRODUCTS (catalogue size, default 1000),
// BENCH_DURATION (seconds per measurement, default 10), BENCH_CONNECTIONS (default 32).
import { registerUsers } from "./lib/api.js";
import { benchDatabases, createBenchDatabase, type DatabaseKind } from "./lib/databases.js";
import { benchDuration, describeProblems, runLoad, WARMUP_SECONDS, type LoadResult } from "./lib/load.js";
import { main, onCleanup, step } from "./lib/main.js";
import { seedProducts } from "./lib/postgres.js";
import { printChecks, printTable, statusSummary, type Check } from "./lib/report.js";

const size = Number(process.env.BENCH_PRODUCTS ?? 1000);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);

interface Measurement extends LoadResult {
  database: DatabaseKind;
  read: string;
  answer: "200" | "304";
}

await main("bench:conditional", async () => {
  const measurements: Measurement[] = [];
  const checks: Check[] = [];
  for (const database of benchDatabases()) {
    const label = `[${database}]`;
    const db = await step(`${label} database + migrations`, () => createBenchDatabase(database, "conditional"));
    const { lastId } = await step(`${label} seeding ${size} products`, () => db.withUrl((url) => seedProducts(url, size)));
    const service = await step(`${label} starting service`, () => db.startService());
    onCleanup(async () => void (await service.stop()));
    const [user] = await registerUsers(service.baseUrl, 1);
    const token = user!.token;
    const reads = { "product by id": `/api/product/${lastId}`, "keyword + max_price page": "/api/product/?keyword=tea&max_price=50&limit=5" };

    for (const [read, path] of Object.entries(reads)) {
      const first = await fetch(service.baseUrl + path, { headers: { authorization: `Bearer ${token}` } });
      const etag = first.headers.get("etag");
      const body = await first.text();
      const revalidated = await fetch(service.baseUrl + path, { headers: { authorization: `Bearer ${token}`, "if-none-match": etag ?? "" } });
      const ok = first.status === 200 && etag !== null && revalidated.status === 304 && (await revalidated.text()) === "";
      checks.push({ name: `${database}: ${read} revalidates`, ok, detail: `200 with ETag ${etag} (${body.length} bytes), then ${revalidated.status}` });
      if (!ok) continue;
      await step(`${label} warm-up ${read} (${WARMUP_SECONDS} s)`, () =>
        runLoad({ baseUrl: service.baseUrl, connections, durationSeconds: WARMUP_SECONDS, next: () => ({ path, token }) }),
      );
      for (const answer of ["200", "304"] as const) {
        const headers = answer === "304" ? { "if-none-match": etag } : undefined;
        const result = await step(`${label} ${read} → ${answer} (${benchDuration()} s)`, () =>
          runLoad({ baseUrl: service.baseUrl, connections, next: () => ({ path, token, ...(headers ? { headers } : {}) }) }),
        );
        measurements.push({ database, read, answer, ...result });
        const only = result.errors === 0 && result.requests > 0 && Object.keys(result.statuses).every((status) => status === answer);
        checks.push({
          name: `${database}: ${read} → all ${answer}`,
          ok: only,
          detail: `${result.requests} requests, statuses ${statusSummary(result.statuses)}${result.problems && Object.keys(result.problems).length ? `: ${describeProblems(result.problems)}` : ""}`,
        });
      }
    }
    await service.stop();
  }

  printTable(
    `Conditional reads (${size} products, ${connections} connections, ${benchDuration()} s each; latency in ms)`,
    measurements.map((m) => ({ database: m.database, read: m.read, answer: m.answer, "req/s": m.rps, p50: m.p50, p99: m.p99, requests: m.requests })),
  );
  const pairs = measurements
    .filter((m) => m.answer === "304")
    .map((notModified) => {
      const full = measurements.find((m) => m.database === notModified.database && m.read === notModified.read && m.answer === "200")!;
      return {
        database: notModified.database,
        read: notModified.read,
        "200 req/s": full.rps,
        "304 req/s": notModified.rps,
        "304 / 200": `${((100 * notModified.rps) / full.rps).toFixed(0)} %`,
        "p50 200 → 304 (ms)": `${full.p50} → ${notModified.p50}`,
      };
    });
  printTable("304 against 200 (same read, same SQL; the 304 skips the body)", pairs);
  return printChecks("Correctness", checks);
});
