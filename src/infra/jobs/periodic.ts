export interface PeriodicJob {
  name: string;
  intervalMs: number;
  run(): Promise<unknown>;
}

export interface JobRunner {
  stop(): void;
}

/**
 * Runs each job every `intervalMs` on the process that `isLeader()` names (one per deployment),
 * and also as soon as a process becomes the leader: a deployment restarts every process, and
 * a job whose interval is longer than the time between deployments would otherwise never run.
 */
export function runPeriodicJobs(
  jobs: PeriodicJob[],
  options: {
    isLeader: () => boolean;
    /** How often leadership is looked at. */
    pollMs: number;
    onRun: (job: string, outcome: "ok" | "failed", err?: unknown) => void;
  },
): JobRunner {
  const lastRun = new Map<string, number>();
  const running = new Set<string>();
  let wasLeader = false;

  const tick = () => {
    const leader = options.isLeader();
    const becameLeader = leader && !wasLeader;
    wasLeader = leader;
    if (!leader) return;
    const now = Date.now();
    for (const job of jobs) {
      const due = becameLeader || now - (lastRun.get(job.name) ?? 0) >= job.intervalMs;
      if (!due || running.has(job.name)) continue;
      lastRun.set(job.name, now);
      running.add(job.name);
      job
        .run()
        .then(
          () => options.onRun(job.name, "ok"),
          (err: unknown) => options.onRun(job.name, "failed", err),
        )
        .finally(() => running.delete(job.name));
    }
  };
  const timer = setInterval(tick, options.pollMs).unref();
  tick();
  return { stop: () => clearInterval(timer) };
}
