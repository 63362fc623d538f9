// pgbench as a ceiling: the database's own throughput for a custom script, with latency
// percentiles from its per-transaction log. Found at PG_BIN_DIR, on PATH, or in the newest
// /usr/lib/postgresql/<version>/bin (Debian and Ubuntu keep PostgreSQL's tools off PATH).
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The pgbench executable, or undefined when PostgreSQL's tools are not installed. */
export function findPgbench(): string | undefined {
  const candidates = [
    ...(process.env.PG_BIN_DIR ? [process.env.PG_BIN_DIR] : []),
    ...(process.env.PATH ?? "").split(delimiter).filter(Boolean),
    ...(existsSync("/usr/lib/postgresql")
      ? readdirSync("/usr/lib/postgresql").filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)).map((v) => `/usr/lib/postgresql/${v}/bin`)
      : []),
  ];
  return candidates.map((dir) => join(dir, "pgbench")).find((path) => existsSync(path));
}

export interface PgbenchOptions {
  url: string;
  /** The script's text (pgbench's custom-script syntax). */
  script: string;
  /** String variables (-D name=value), referenced in the script as :name. */
  variables: Record<string, string>;
  clients: number;
  threads: number;
  seconds: number;
}

export interface PgbenchResult {
  tps: number;
  transactions: number;
  failed: number;
  /** Latency percentiles in ms, from the per-transaction log. */
  p50: number;
  p99: number;
}

/** Runs pgbench with the extended query protocol (as the service's driver), no vacuum, no initialisation. */
export async function runPgbench(pgbench: string, options: PgbenchOptions): Promise<PgbenchResult> {
  const dir = await mkdtemp(join(tmpdir(), "order-service-pgbench-"));
  try {
    const scriptPath = join(dir, "script.sql");
    await writeFile(scriptPath, options.script);
    const args = [
      "--no-vacuum",
      "--protocol=extended",
      `--client=${options.clients}`,
      `--jobs=${options.threads}`,
      `--time=${options.seconds}`,
      `--file=${scriptPath}`,
      "--log",
      `--log-prefix=${join(dir, "log")}`,
      ...Object.entries(options.variables).map(([name, value]) => `--define=${name}=${value}`),
      options.url,
    ];
    const { stdout } = await run(pgbench, args, { cwd: dir, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, PGCONNECT_TIMEOUT: "10" } });
    const tps = Number(/^tps = ([\d.]+)/m.exec(stdout)?.[1]);
    const transactions = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]);
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    if (!Number.isFinite(tps) || !Number.isFinite(transactions)) throw new Error(`pgbench printed no figures:\n${stdout}`);
    // Each log line: client transaction latency_us script epoch_s epoch_us.
    const latencies: number[] = [];
    for (const file of (await readdir(dir)).filter((f) => f.startsWith("log"))) {
      for (const line of (await readFile(join(dir, file), "utf8")).split("\n")) {
        const micros = Number(line.split(" ")[2]);
        if (line && Number.isFinite(micros)) latencies.push(micros / 1000);
      }
    }
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
    return { tps, transactions, failed, p50: at(0.5), p99: at(0.99) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
