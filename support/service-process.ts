// Child processes for tests, benchmarks and scripts: the service itself (src/server.ts, or another
// Node entry point) and the Redis, nginx and Prometheus it runs beside, on loopback, stopped by
// whoever started them. The one spawner: output kept for error messages, readiness polled, a
// stop that waits for the exit.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./postgres-cluster.js";

export interface Stopped {
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
}

export interface ServiceProcess {
  child: ChildProcess;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** What it wrote to stdout and stderr, interleaved (the last `keepOutputChars`); empty when its output is inherited. */
  output(): string;
  /** What it wrote to one of them (the last `keepOutputChars`). */
  outputOf(stream: "stdout" | "stderr"): string;
  /** Sends `signal`, then SIGKILL after `killAfterMs`, and resolves once the process has ended. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<Stopped>;
}

export interface SpawnOptions {
  cwd?: string;
  /** The whole environment; a key set to undefined is left out. Default: this process's. */
  env?: Record<string, string | undefined>;
  /** "inherit": the child writes to this process's stdout and stderr (benchmarks). Default "keep". */
  output?: "keep" | "inherit";
  keepOutputChars?: number;
  /** Run as this user and group (Patroni and PostgreSQL refuse to run as root). */
  uid?: number;
  gid?: number;
  /** In a process group of its own, as a terminal starts a command (signal the group with kill(-pid)). */
  detached?: boolean;
}

export function spawnProcess(command: string, args: string[], options: SpawnOptions = {}): ServiceProcess {
  const inherit = options.output === "inherit";
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    uid: options.uid,
    gid: options.gid,
    detached: options.detached,
    stdio: ["ignore", inherit ? "inherit" : "pipe", inherit ? "inherit" : "pipe"],
  });
  const keepChars = options.keepOutputChars ?? 64_000;
  const kept = { all: "", stdout: "", stderr: "" };
  const keep = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
    kept.all = (kept.all + chunk.toString()).slice(-keepChars);
    kept[stream] = (kept[stream] + chunk.toString()).slice(-keepChars);
  };
  child.stdout?.on("data", keep("stdout"));
  child.stderr?.on("data", keep("stderr"));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  let ended = false;
  void exited.then(() => (ended = true));
  return {
    child,
    exited,
    output: () => kept.all,
    outputOf: (stream) => kept[stream],
    async stop(signal = "SIGTERM", killAfterMs = 15_000) {
      if (ended) return { code: child.exitCode, signal: child.signalCode, seconds: 0 };
      const started = performance.now();
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
      await exited;
      clearTimeout(timer);
      return { code: child.exitCode, signal: child.signalCode, seconds: (performance.now() - started) / 1000 };
    },
  };
}

/**
 * Polls `ready` until it is true. Throws (after a SIGKILL) when the process ends first or the
 * time runs out, with its output.
 */
export async function waitUntilReady(
  service: ServiceProcess,
  what: string,
  ready: () => Promise<boolean>,
  { timeoutMs = 30_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  let ended = false;
  void service.exited.then(() => (ended = true));
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (ended)
      throw new Error(`${what} exited early (code ${service.child.exitCode}, signal ${service.child.signalCode}), before it was ready:\n${service.output()}`);
    if (Date.now() > deadline) {
      await service.stop("SIGKILL");
      throw new Error(`${what} was not ready within ${timeoutMs / 1000} s:\n${service.output()}`);
    }
    await sleep(intervalMs);
  }
}

/** Spawns `command` and resolves once something accepts connections on 127.0.0.1:`port`. */
export async function startServiceProcess(
  command: string,
  args: string[],
  port: number,
  options: { cwd?: string; timeoutMs?: number; uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ServiceProcess> {
  const { cwd, uid, gid, env } = options;
  const service = spawnProcess(command, args, { cwd, uid, gid, env });
  await waitUntilReady(service, `${command} on port ${port}`, () => acceptsConnections(port), { timeoutMs: options.timeoutMs });
  return service;
}

/** Whether something accepts TCP connections on host:port. */
export function acceptsConnections(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export interface NodeServer extends ServiceProcess {
  baseUrl: string;
}

export interface NodeServerOptions extends Omit<SpawnOptions, "env"> {
  /** Added to this process's environment (undefined removes a variable); HOST and PORT are set here. */
  env?: Record<string, string | undefined>;
  /** Flags for Node itself, e.g. --cpu-prof (not allowed in NODE_OPTIONS). */
  nodeArgs?: string[];
  /** Modules loaded after tsx and before the script (src/instrumentation.ts, as `make run` loads it). */
  imports?: string[];
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Runs `node [nodeArgs] --import tsx [--import each of imports] <script>` (src/server.ts, or another HTTP server) on a free
 * loopback port and resolves once GET /readyz answers 200.
 */
export async function startNodeServer(script: string, options: NodeServerOptions = {}): Promise<NodeServer> {
  const port = await freePort();
  const imports = (options.imports ?? []).flatMap((module) => ["--import", module]);
  const service = spawnProcess(process.execPath, [...(options.nodeArgs ?? []), "--import", "tsx", ...imports, script], {
    ...options,
    env: { ...process.env, ...options.env, HOST: "127.0.0.1", PORT: String(port) },
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const ready = () =>
    fetch(`${baseUrl}/readyz`).then(
      (answer) => answer.status === 200,
      () => false,
    );
  await waitUntilReady(service, script, ready, { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: options.intervalMs ?? 100 });
  return { ...service, baseUrl };
}
