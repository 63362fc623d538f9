// npm run bench:tracing-cpu — what tracing adds to the CPU time of one request, in the service's own
// process (on PostgreSQL): the app driven through Fastify's inject by 16 concurrent callers, so that
// the kernel's share of a socket does not blur the difference (npm run bench:tracing measures the
// service over HTTP); a new process per measurement, tracing off and on alternately, round after
// round, medians compared.
// Env: BENCH_ROUNDS (default 5), BENCH_REQUESTS (per measurement, default 20000), BENCH_TRACING_RATIO
// (default 0.1), BENCH_WORKS (by-id, order; default both), BENCH_VARIANTS (more "on" variants, each
// with extra environment: `OTEL_TRACES_SAMPLER_ARG=0;OTEL_TRACES_SAMPLER_ARG=1`; SERVICE_DIR=<a
// checkout> runs that checkout's service with tracing on, e.g. a `git worktree` of main, so that two
// versions are compared round by round), PROFILE_DIR (a .cpuprofile of each measurement's requests
// there: compare with bench/lib/flamegraph.ts' tables).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createBenchDatabase } from "./lib/databases.js";
import { main, onCleanup, step } from "./lib/main.js";
import { startOtlpSink, tracingEnvironment } from "./lib/otlp-sink.js";
import { seedProducts } from "./lib/postgres.js";
import { median, printTable, type Row } from "./lib/report.js";
import { serviceEnvironment, WITHOUT_SOURCE_MAPS } from "./lib/service.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const ratio = process.env.BENCH_TRACING_RATIO ?? "0.1";
const works = (process.env.BENCH_WORKS ?? "by-id,order").split(",");

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function measure(env: Record<string, string>, tracing: boolean): Promise<{ cpuUs: number; rps: number; failed: number }> {
  const serviceDir = env.SERVICE_DIR ?? ROOT;
  const instrumentation = join(serviceDir, "src/instrumentation.ts");
  const args = [
    "--import",
    "tsx",
    "--import",
    WITHOUT_SOURCE_MAPS,
    ...(tracing ? ["--import", instrumentation] : []),
    join(ROOT, "bench/tracing-cpu-worker.ts"),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: serviceDir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").pop()!)) : reject(new Error(`worker exited with ${code}: ${out}`))));
  });
}

await main("bench:tracing-cpu", async () => {
  const sink = await startOtlpSink();
  onCleanup(async () => sink.close());
  const db = await step("PostgreSQL database + migrations", () => createBenchDatabase("postgres", "tracingcpu"));
  // Stock for every round and variant: 1,000 units each ran out in the third round of three variants.
  const { firstId, lastId } = await step("seeding 1000 products", () => db.withUrl((url) => seedProducts(url, 1_000, 1_000_000)));
  const variants: Record<string, Record<string, string>> = { off: {}, on: tracingEnvironment(sink, ratio) };
  for (const [i, variant] of (process.env.BENCH_VARIANTS ?? "").split(";").filter(Boolean).entries()) {
    variants[`on+${i + 1}`] = { ...variants.on!, ...Object.fromEntries(variant.split(",").map((kv) => kv.split("=") as [string, string])) };
  }
  const samples: { work: string; variant: string; cpuUs: number; rps: number }[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = Object.keys(variants);
    if (round % 2 === 0) order.reverse();
    for (const work of works) {
      for (const variant of order) {
        const profile: Record<string, string> = process.env.PROFILE_DIR
          ? { PROFILE_OUT: `${process.env.PROFILE_DIR}/${work}-${variant}-${round}.cpuprofile` }
          : {};
        const env = {
          ...serviceEnvironment(db.url!),
          ...variants[variant],
          ...profile,
          WORK: work,
          REQUESTS: process.env.BENCH_REQUESTS ?? "20000",
          FIRST_ID: String(firstId),
          LAST_ID: String(lastId),
        };
        const result = await step(`round ${round} ${work} ${variant}`, () => measure(env, variant !== "off"));
        if (result.failed) throw new Error(`${result.failed} requests failed`);
        console.log(`    ${result.cpuUs.toFixed(1)} µs/req`);
        samples.push({ work, variant, ...result });
      }
    }
  }
  const rows: Row[] = [];
  for (const work of works) {
    const off = median(samples.filter((s) => s.work === work && s.variant === "off").map((s) => s.cpuUs));
    for (const variant of Object.keys(variants)) {
      const cpu = median(samples.filter((s) => s.work === work && s.variant === variant).map((s) => s.cpuUs));
      rows.push({ work, variant, "CPU µs/req": cpu, "vs off": `${((100 * (cpu - off)) / off).toFixed(1)} %` });
    }
  }
  printTable(`CPU time per request, medians of ${rounds} rounds`, rows);
  return true;
});
