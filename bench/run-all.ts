// npm run bench — the catalogue (1,000 and 1,000,000 products), orders, flash-sale and login-timing
// benchmarks in sequence, each in its own process with its own throwaway cluster and service.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { printTable } from "./lib/report.js";

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

const results = [];
for (const { script, env } of RUNS) {
  console.log(`\n=== ${script} ${env ? Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ") : ""}`);
  const started = performance.now();
  const code = await run(script, env);
  results.push({ benchmark: script, result: code === 0 ? "OK" : `FAILED (exit ${code})`, seconds: Number(((performance.now() - started) / 1000).toFixed(1)) });
}
printTable("All benchmarks", results);
process.exit(results.every((r) => r.result === "OK") ? 0 : 1);
