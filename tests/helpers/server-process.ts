import { spawnProcess, startNodeServer, type NodeServer } from "../../support/service-process.js";

export type ServerProcess = NodeServer;

// A fresh embedded database (initdb and migrations) takes a while on a busy machine.
const START_TIMEOUT_MS = 90_000;
const TEST_ENV = { NODE_ENV: "test", LOG_LEVEL: "info" };

/** Loaded before the service, as `make run` does: src/instrumentation.ts (tracing, when OTEL_* asks for it). */
const SERVICE_IMPORTS = ["./src/instrumentation.ts"];

/** Starts `src/server.ts` as a real process on a free port and waits until /readyz answers 200 (all its output kept). */
export function startServerProcess(env: Record<string, string>, startTimeoutMs = START_TIMEOUT_MS): Promise<ServerProcess> {
  return startNodeServer("src/server.ts", {
    env: { ...TEST_ENV, ...env },
    imports: SERVICE_IMPORTS,
    timeoutMs: startTimeoutMs,
    keepOutputChars: Number.POSITIVE_INFINITY,
  });
}

/** Runs `src/server.ts` (or another entry point) as a real process expected to stop by itself: its exit code and output. */
export async function runServerToExit(
  env: Record<string, string>,
  timeoutMs = 30_000,
  script = "src/server.ts",
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const server = spawnProcess(process.execPath, ["--import", "tsx", ...SERVICE_IMPORTS.flatMap((module) => ["--import", module]), script], {
    env: { ...process.env, ...TEST_ENV, HOST: "127.0.0.1", PORT: "0", ...env },
    keepOutputChars: Number.POSITIVE_INFINITY,
  });
  const timer = setTimeout(() => server.child.kill("SIGKILL"), timeoutMs);
  const code = await server.exited;
  clearTimeout(timer);
  return { code, stdout: server.outputOf("stdout"), stderr: server.outputOf("stderr") };
}
