// A throwaway Redis (Debian's redis-server) on 127.0.0.1, in memory only.
import { freePort } from "./postgres-cluster.js";
import { startServiceProcess, type ServiceProcess } from "./service-process.js";

export interface RedisServer {
  url: string;
  /** Kills the server (like a crash); start() brings a new, empty one back on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"];
  let server: ServiceProcess | undefined;
  const start = async () => {
    server = await startServiceProcess("redis-server", args, port);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    kill: async () => void (await server?.stop("SIGKILL")),
    stop: async () => void (await server?.stop("SIGTERM")),
  };
}
