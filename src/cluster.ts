import cluster from "node:cluster";

/**
 * Runs `serve` in `workers` processes (node:cluster shares the listening port between them).
 * The primary only supervises: it replaces a worker that dies, and on SIGTERM/SIGINT passes the
 * signal on and exits once every worker has finished its in-flight requests.
 */
export function runWorkers(workers: number, serve: () => Promise<void>): Promise<void> {
  if (workers <= 1 || !cluster.isPrimary) return serve();
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
