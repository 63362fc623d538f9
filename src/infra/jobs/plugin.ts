import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { type PeriodicJob, runPeriodicJobs } from "./periodic.js";

const LEADERSHIP_POLL_MS = 1_000;

/**
 * The features' periodic jobs (e.g. the orders' hourly purge of expired idempotency keys), run once per deployment: by
 * the process holding the coordination lock, or by this one when its database is its own. Every
 * process looks at the lock each second, so another takes over within a second of the holder
 * stopping. Stopped with the app.
 */
export const periodicJobsPlugin = fp(
  async (app: FastifyInstance, options: { jobs: PeriodicJob[] /** Every job's interval instead of its own (tests shorten it). */; intervalMs?: number }) => {
    const { coordination, serviceMetrics: metrics } = app;
    const scheduled = options.jobs.map((job) => ({ ...job, intervalMs: options.intervalMs ?? job.intervalMs }));
    const jobs = runPeriodicJobs(scheduled, {
      isLeader: coordination ? coordination.isLeader : () => true,
      pollMs: Math.min(LEADERSHIP_POLL_MS, ...scheduled.map((job) => job.intervalMs)),
      onRun: (job, outcome, err) => {
        metrics.jobRun(job, outcome);
        if (err) app.log.warn({ err, job }, "periodic job failed");
      },
    });
    app.addHook("onClose", async () => jobs.stop());
  },
  { name: "periodic-jobs", dependencies: ["metrics", "coordination"], fastify: "5.x" },
);
