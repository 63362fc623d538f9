// The order service (or the baseline server) as a child process on a free loopback port.
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../support/postgres-cluster.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const READY_TIMEOUT_MS = 60_000;

export interface RunningServer {
  baseUrl: string;
  pid: number;
  /** Resident memory of the child process in bytes (VmRSS from /proc), or undefined. */
  rssBytes(): Promise<number | undefined>;
  /** CPU time the child process has used so far (user + system, from /proc), in seconds, or undefined. */
  cpuSeconds(): Promise<number | undefined>;
  /** SIGTERM, then SIGKILL after 15 s; resolves with how it ended and how long that took. */
  stop(): Promise<Stopped>;
}

/** The service with the abuse limits raised so that a benchmark's logins are never refused. */
/**
 * BENCH_SERVICE_DIR: run the service from another checkout (e.g. a `git worktree` of an older
 * commit, with its node_modules), measured by this checkout's benchmark beside the same baseline.
 */
const SERVICE_SCRIPT = process.env.BENCH_SERVICE_DIR ? join(process.env.BENCH_SERVICE_DIR, "src/server.ts") : "src/server.ts";

export function startService(databaseUrl: string, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<RunningServer> {
  return startNodeServer(
    SERVICE_SCRIPT,
    {
      DATABASE_URL: databaseUrl,
      NODE_ENV: "development", // creates the default admin (admin / ADMIN_PASSWORD)
      ADMIN_PASSWORD: ADMIN.password,
      LOG_LEVEL: "warn",
      DB_POOL_MAX: "20",
      WORKERS: "1", // one process, so its RSS is the service's
      LOGIN_RATE_LIMIT_PER_MINUTE: "1000000",
      REGISTER_RATE_LIMIT_PER_HOUR: "1000000",
      LOGIN_FAILURES_BEFORE_DELAY: "1000000",
      ...env,
    },
    {},
    nodeArgs,
  );
}

/** The service on its embedded database in `dataDir`, with the development defaults, as `make run` starts it. */
export function startEmbeddedService(dataDir: string, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<RunningServer> {
  return startNodeServer(
    SERVICE_SCRIPT,
    { NODE_ENV: "development", DATA_DIR: dataDir, ADMIN_PASSWORD: ADMIN.password, LOG_LEVEL: "warn", ...env },
    { DATABASE_URL: undefined },
    nodeArgs,
  );
}

export const ADMIN = { name: "admin", password: "bench-admin-password" };

/**
 * Spawns `node [nodeArgs] --import tsx <script>` with HOST/PORT set and waits until GET /readyz
 * answers 200. `nodeArgs`: flags for Node itself, e.g. --cpu-prof (not allowed in NODE_OPTIONS).
 */
export async function startNodeServer(
  script: string,
  env: Record<string, string>,
  unset: Record<string, undefined> = {},
  nodeArgs: string[] = [],
): Promise<RunningServer> {
  const port = await freePort();
  // The service starts as `make run` starts it: src/instrumentation.ts first (tracing when OTEL_* asks for it).
  const preload = script === SERVICE_SCRIPT ? ["--import", "./src/instrumentation.ts"] : [];
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", ...preload, script], {
    cwd: process.env.BENCH_SERVICE_DIR && script === SERVICE_SCRIPT ? process.env.BENCH_SERVICE_DIR : ROOT,
    env: { ...process.env, ...env, ...unset, HOST: "127.0.0.1", PORT: String(port) },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const server: RunningServer = {
    baseUrl,
    pid: child.pid!,
    rssBytes: () => rssOf(child.pid!),
    cpuSeconds: () => cpuOf(child.pid!),
    stop: () => stopChild(child),
  };
  try {
    await waitReady(baseUrl, child);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

async function waitReady(baseUrl: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode} before it was ready`);
    const status = await fetch(`${baseUrl}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await sleep(200);
  }
  throw new Error(`${baseUrl}/readyz not 200 within ${READY_TIMEOUT_MS / 1000} s`);
}

export interface Stopped {
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
}

async function stopChild(child: ChildProcess): Promise<Stopped> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode, seconds: 0 };
  const started = performance.now();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
  return { code: child.exitCode, signal: child.signalCode, seconds: (performance.now() - started) / 1000 };
}

async function rssOf(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

/** utime + stime of /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux). */
async function cpuOf(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const [utime, stime] = [Number(fields[11]), Number(fields[12])];
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / 100 : undefined;
}
