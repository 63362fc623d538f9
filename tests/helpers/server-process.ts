import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../support/postgres-cluster.js";

export interface ServerProcess {
  child: ChildProcess;
  baseUrl: string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  output(): string;
}

// A fresh embedded database (initdb and migrations) takes a while on a busy machine.
const START_TIMEOUT_MS = 90_000;

/** How the service is started: as `make run` does, with src/instrumentation.ts loaded first (tracing, when OTEL_* asks for it). */
const SERVICE_ARGS = ["--import", "tsx", "--import", "./src/instrumentation.ts"];

/** Starts `src/server.ts` as a real process on a free port and waits until /readyz answers 200. */
export async function startServerProcess(env: Record<string, string>, startTimeoutMs = START_TIMEOUT_MS): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...SERVICE_ARGS, "src/server.ts"], {
    env: { ...process.env, NODE_ENV: "test", LOG_LEVEL: "info", ...env, HOST: "127.0.0.1", PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => void (output += chunk.toString());
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = once(child, "exit").then(([code]) => code as number | null);
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (hasExited) throw new Error(`server exited early:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`server did not start:\n${output}`);
    }
    const ready = await fetch(`${baseUrl}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) return { child, baseUrl, exited, output: () => output };
    await sleep(100);
  }
}

/** Runs `src/server.ts` (or another entry point) as a real process expected to stop by itself: its exit code and output. */
export async function runServerToExit(
  env: Record<string, string>,
  timeoutMs = 30_000,
  script = "src/server.ts",
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...SERVICE_ARGS, script], {
    env: { ...process.env, NODE_ENV: "test", HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}
