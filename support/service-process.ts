// Real service processes (Redis, nginx, Prometheus) for tests: started on loopback from the
// Debian packages' binaries, output kept for error messages, stopped by the test.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface ServiceProcess {
  child: ChildProcess;
  output(): string;
  /** Sends `signal` and waits for the process to end. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const KEEP_OUTPUT_CHARS = 64_000;

/** Spawns `command` and resolves once something accepts connections on 127.0.0.1:`port`. */
export async function startServiceProcess(
  command: string,
  args: string[],
  port: number,
  options: { cwd?: string; timeoutMs?: number; uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ServiceProcess> {
  const { cwd, uid, gid, env } = options;
  const child = spawn(command, args, { cwd, uid, gid, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-KEEP_OUTPUT_CHARS);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = once(child, "exit");
  let ended = false;
  void exited.then(() => (ended = true));
  const service: ServiceProcess = {
    child,
    output: () => output,
    async stop(signal = "SIGTERM") {
      if (ended) return;
      child.kill(signal);
      await exited;
    },
  };
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!(await accepts(port))) {
    if (ended) throw new Error(`${command} exited before listening on ${port}:\n${output}`);
    if (Date.now() > deadline) {
      await service.stop("SIGKILL");
      throw new Error(`${command} did not listen on ${port} in time:\n${output}`);
    }
    await sleep(50);
  }
  return service;
}

export function accepts(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
