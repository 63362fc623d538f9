// Replicas of the service as real processes (src/server.ts) on one PostgreSQL, optionally one
// Redis, and nginx in front of them with the config of ops/nginx.
import { startNginx, type Nginx } from "../../support/nginx.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";

export interface Replicas {
  replicas: ServerProcess[];
  nginx: Nginx;
  stop(): Promise<void>;
}

export async function startReplicas(count: number, env: Record<string, string>): Promise<Replicas> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startServerProcess(env)));
  const replicas = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const stopReplicas = async () => {
    await Promise.all(
      replicas.map((replica) => {
        replica.child.kill("SIGTERM");
        return replica.exited;
      }),
    );
  };
  const failed = started.find((result) => result.status === "rejected");
  if (failed) {
    await stopReplicas();
    throw (failed as PromiseRejectedResult).reason;
  }
  let nginx: Nginx;
  try {
    nginx = await startNginx(replicas.map((replica) => new URL(replica.baseUrl).host));
  } catch (error) {
    await stopReplicas();
    throw error;
  }
  return {
    replicas,
    nginx,
    async stop() {
      await Promise.all([nginx.stop(), stopReplicas()]);
    },
  };
}
