// The database's own throughput for a statement mix: pgbench with a custom script, so a service
// figure can be printed as a share of what the database does with the same SQL and no HTTP.
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { summarize } from "./report.js";

const run = promisify(execFile);

/**
 * pgbench: PGBENCH, else the first on PATH, else the newest /usr/lib/postgresql/<version>/bin
 * (Debian keeps it off PATH); undefined when PostgreSQL's client tools are not installed.
 */
export function findPgbench(): string | undefined {
  if (process.env.PGBENCH) return existsSync(process.env.PGBENCH) ? process.env.PGBENCH : undefined;
  const onPath = (process.env.PATH ?? "").split(delimiter).find((dir) => dir !== "" && existsSync(join(dir, "pgbench")));
  if (onPath) return join(onPath, "pgbench");
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const found = versions.map((v) => join(root, v, "bin", "pgbench")).find((path) => existsSync(path));
  return found;
}

export interface PgbenchOptions {
  /** postgres:// URL (pgbench takes it as its database name). */
  url: string;
  /** The transaction, in pgbench's script language (`\set`, `:variables`, one statement per line). */
  script: string;
  /** String variables (`--define name=value`). */
  defines?: Record<string, string>;
  clients: number;
  durationSeconds: number;
  /**
   * `extended`: each statement parsed, bound and run unnamed, as node-postgres sends a query
   * without a name (the service's hot reads); `prepared`: parsed once per connection, then only bound.
   */
  protocol: "extended" | "prepared";
}

export interface PgbenchResult {
  tps: number;
  transactions: number;
  failed: number;
  /** Per-transaction latency percentiles in ms (from pgbench's transaction log). */
  p50: number;
  p99: number;
}

export async function runPgbench(pgbench: string, options: PgbenchOptions): Promise<PgbenchResult> {
  const dir = await mkdtemp(join(tmpdir(), "order-service-pgbench-"));
  try {
    const scriptFile = join(dir, "transaction.sql");
    await writeFile(scriptFile, options.script);
    const threads = Math.max(1, Math.min(options.clients, 2));
    const args = [
      "--no-vacuum",
      `--file=${scriptFile}`,
      `--client=${options.clients}`,
      `--jobs=${threads}`,
      `--time=${options.durationSeconds}`,
      `--protocol=${options.protocol}`,
      ...Object.entries(options.defines ?? {}).map(([name, value]) => `--define=${name}=${value}`),
      "--log",
      `--log-prefix=${join(dir, "log")}`,
      options.url,
    ];
    const { stdout } = await run(pgbench, args, { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, PGAPPNAME: "bench-pgbench" } });
    const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1]);
    const transactions = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]);
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    if (!Number.isFinite(tps)) throw new Error(`pgbench printed no tps:\n${stdout}`);
    // Transaction log lines: client_id transaction_no time_us script_no time_epoch time_us_part …
    const latencies: number[] = [];
    for (const file of (await readdir(dir)).filter((f) => f.startsWith("log."))) {
      for (const line of (await readFile(join(dir, file), "utf8")).split("\n")) {
        const micros = Number(line.split(" ")[2]);
        if (line && Number.isFinite(micros)) latencies.push(micros / 1000);
      }
    }
    const { p50, p99 } = summarize(latencies);
    return { tps, transactions, failed, p50, p99 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
