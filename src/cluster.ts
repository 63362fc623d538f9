import cluster from "node:cluster";

export interface Service {
  /** The start-up checks (port free, database migrated): run once, before any worker starts. */
  check: () => Promise<void>;
  /** Opens the app and listens. */
  serve: () => Promise<void>;
}

/**
 * Checks, then runs `serve` in `workers` processes (node:cluster shares the listening port between
 * them). The primary only supervises: it replaces a worker that dies, and on SIGTERM/SIGINT
 * passes the signal on and exits once every worker has finished its in-flight requests.
 */
export async function runWorkers(workers: number, { check, serve }: Service): Promise<void> {
  // A worker serves at once. The checks are the primary's: a worker's own port check would find
  // the port taken by the cluster, so a worker replaced while others serve would never start.
  if (!cluster.isPrimary) return serve();
  await check();
  if (workers <= 1) return serve();
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    console.error(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    cluster.fork();
  });
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  return Promise.resolve();
}
