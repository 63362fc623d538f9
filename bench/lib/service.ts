// The order service (or the baseline server) as a child process on a free loopback port.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ADMIN } from "../../support/admin.js";
import { startNodeServer as startProcess, type Stopped } from "../../support/service-process.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
/** Source maps off, as the service runs outside tsx (see the module). */
export const WITHOUT_SOURCE_MAPS = fileURLToPath(new URL("./without-source-maps.ts", import.meta.url));

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

/**
 * BENCH_SERVICE_DIR: run the service from another checkout (e.g. a `git worktree` of an older
 * commit, with its node_modules), measured by this checkout's benchmark beside the same baseline.
 */
const SERVICE_SCRIPT = process.env.BENCH_SERVICE_DIR ? join(process.env.BENCH_SERVICE_DIR, "src/server.ts") : "src/server.ts";

/** The service's environment on `databaseUrl`, with the abuse limits raised so that a benchmark's logins are never refused. */
export function serviceEnvironment(databaseUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    NODE_ENV: "development", // creates the default admin (admin / ADMIN_PASSWORD)
    ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: "warn",
    DB_POOL_MAX: "20",
    WORKERS: "1", // one process, so its RSS is the service's
    LOGIN_RATE_LIMIT_PER_MINUTE: "1000000",
    REGISTER_RATE_LIMIT_PER_HOUR: "1000000",
    LOGIN_FAILURES_BEFORE_DELAY: "1000000",
  };
}

/** The service on `databaseUrl` (serviceEnvironment, then `env`). */
export function startService(databaseUrl: string, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<RunningServer> {
  return startNodeServer(SERVICE_SCRIPT, { ...serviceEnvironment(databaseUrl), ...env }, {}, nodeArgs);
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

/** `startNodeServer` with the benchmark's output inherited, resident memory and CPU time of the process. */
export async function startNodeServer(
  script: string,
  env: Record<string, string>,
  unset: Record<string, undefined> = {},
  nodeArgs: string[] = [],
): Promise<RunningServer> {
  const cwd = process.env.BENCH_SERVICE_DIR && script === SERVICE_SCRIPT ? process.env.BENCH_SERVICE_DIR : ROOT;
  // The service starts as `make run` starts it: src/instrumentation.ts first (tracing when OTEL_* asks
  // for it), where the measured checkout has one.
  const instrumentation = join(cwd, "src/instrumentation.ts");
  const server = await startProcess(script, {
    imports: [WITHOUT_SOURCE_MAPS, ...(script === SERVICE_SCRIPT && existsSync(instrumentation) ? [instrumentation] : [])],
    cwd,
    env: { ...env, ...unset },
    nodeArgs,
    output: "inherit",
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 200,
  });
  const pid = server.child.pid!;
  return { baseUrl: server.baseUrl, pid, rssBytes: () => rssOf(pid), cpuSeconds: () => cpuOf(pid), stop: () => server.stop() };
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
