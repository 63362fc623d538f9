import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { runPeriodicJobs } from "../jobs/periodic.js";

const IDEMPOTENCY_PURGE_INTERVAL_MS = 60 * 60 * 1000;
const LEADERSHIP_POLL_MS = 1_000;

/**
 * The periodic jobs (the hourly purge of expired idempotency keys), run once per deployment: by
 * the process holding the coordination lock, or by this one when its database is its own. Every
 * process looks at the lock each second, so another takes over within a second of the holder
 * stopping. Stopped with the app.
 */
export const periodicJobsPlugin = fp(
  async (app: FastifyInstance, options: { purgeIntervalMs?: number }) => {
    const { coordination, serviceMetrics: metrics, repositories } = app;
    const purgeIntervalMs = options.purgeIntervalMs ?? IDEMPOTENCY_PURGE_INTERVAL_MS;
    const jobs = runPeriodicJobs([{ name: "idempotency-purge", intervalMs: purgeIntervalMs, run: () => repositories.orders.purgeIdempotencyKeys() }], {
      isLeader: coordination ? coordination.isLeader : () => true,
      pollMs: Math.min(LEADERSHIP_POLL_MS, purgeIntervalMs),
      onRun: (job, outcome, err) => {
        metrics.jobRun(job, outcome);
        if (err) app.log.warn({ err, job }, "periodic job failed");
      },
    });
    app.addHook("onClose", async () => jobs.stop());
  },
  { name: "periodic-jobs", dependencies: ["metrics", "repositories", "coordination"], fastify: "5.x" },
);
