// npm run bench — the catalogue (1,000 and 1,000,000 products), orders, flash-sale and login-timing
// benchmarks in sequence, each in its own process with its own throwaway cluster and service;
// then one table of every work item against its ceilings (pgbench on the same SQL, the bare server).
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ceilingTable, printTable, type CeilingRow } from "./lib/report.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const RUNS: { script: string; env?: Record<string, string> }[] = [
  { script: "bench/catalogue.ts", env: { BENCH_SIZES: process.env.BENCH_SIZES ?? "1000,1000000" } },
  { script: "bench/orders.ts" },
  { script: "bench/flash-sale.ts" },
  { script: "bench/login-timing.ts" },
];
const TIMEOUT_MS = 15 * 60_000;

function run(script: string, env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: "inherit" });
    const timer = setTimeout(() => child.kill("SIGTERM"), TIMEOUT_MS);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

const resultsDir = await mkdtemp(join(tmpdir(), "order-service-bench-"));
const resultsFile = join(resultsDir, "ceilings.jsonl");
const results = [];
for (const { script, env } of RUNS) {
  console.log(
    `\n=== ${script} ${
      env
        ? Object.entries(env)
            .map(([k, v]) => `${k}=${v}`)
            .join(" ")
        : ""
    }`,
  );
  const started = performance.now();
  const code = await run(script, { ...env, BENCH_RESULTS_FILE: resultsFile });
  results.push({ benchmark: script, result: code === 0 ? "OK" : `FAILED (exit ${code})`, seconds: Number(((performance.now() - started) / 1000).toFixed(1)) });
}
printTable("All benchmarks", results);
const ceilings: CeilingRow[] = (await readFile(resultsFile, "utf8").catch(() => ""))
  .split("\n")
  .filter(Boolean)
  .map((line) => JSON.parse(line));
await rm(resultsDir, { recursive: true, force: true });
printTable("Every work item against its ceilings (share = service / pgbench on the same SQL; baseline = bare node:http + pg)", ceilingTable(ceilings));
process.exit(results.every((r) => r.result === "OK") ? 0 : 1);
