import client from "prom-client";
import type pg from "pg";

/**
 * Latency histogram buckets (seconds), for HTTP routes and database operations alike: from 1 ms
 * to the 5 s default statement timeout (DB_STATEMENT_TIMEOUT_MS).
 */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * One registry per app instance (tests build many apps in one process), holding the business
 * counters and database metrics; fastify-metrics adds the per-route and process metrics to it.
 */
export interface Metrics {
  registry: client.Registry;
  orderEvents: OrderEventCounters;
  observeQuery(model: string, operation: string, seconds: number): void;
  /** A statement read `reads` products by id for as many concurrent requests (src/catalogue/coalesced-reads.ts). */
  coalescedReads(reads: number): void;
  watchPool(pool: pg.Pool): void;
  /** An idle pool connection failed (its server went away). */
  poolError(): void;
  /** Work waited DB_POOL_WAIT_MS for a connection in vain: the pool was saturated, or the database silent. */
  poolWaitTimedOut(verdict: "overloaded" | "database-unavailable"): void;
  /** A catalogue read was served by the primary or the read replica (DATABASE_READ_URL). */
  readServed(target: "primary" | "replica"): void;
  /** The read replica's lag in seconds, or undefined when it does not answer. */
  replicaLag(seconds: number | undefined): void;
  /** Evaluated at each scrape: 1 when the process would answer /readyz with 200. */
  watchReadiness(check: () => Promise<boolean>): void;
  rateLimitStore: RateLimitStoreEvents;
  coordination(state: { connected: boolean; leader: boolean }): void;
  jobRun(job: string, outcome: "ok" | "failed"): void;
  webhooks: WebhookMetrics;
}

/** Told by the webhook dispatcher (src/events) what became of each attempt, and asked for the backlog at each scrape. */
export interface WebhookMetrics {
  /** delivered (2xx), retrying (failed, tried again later) or failed (the last attempt, or 410). */
  attempt(outcome: "delivered" | "retrying" | "failed", seconds: number): void;
  /** Read at each scrape from the database: the same figures on every replica (alert on max()). */
  watchBacklog(read: () => Promise<{ pending: number; oldestAgeSeconds: number; disabledEndpoints: number }>): void;
}

/** Told by the order handlers what became of each order placed. */
export interface OrderEventCounters {
  placed(order: { unitsSold: number }): void;
  declined(reason: string): void;
  /** An order was cancelled and `unitsReturned` units went back to stock. */
  cancelled(order: { unitsReturned: number }): void;
}

/** Told by the shared rate-limit store (REDIS_URL) whether it answers. */
export interface RateLimitStoreEvents {
  up(up: boolean): void;
  failed(): void;
}

export function createMetrics(): Metrics {
  const registry = new client.Registry();
  const registers = [registry];

  const ordersPlaced = new client.Counter({ name: "orders_placed_total", help: "Orders placed.", registers });
  const ordersDeclined = new client.Counter({
    name: "orders_declined_total",
    help: "Orders refused, by reason (insufficient-stock is a stock-out).",
    labelNames: ["reason"],
    registers,
  });
  // A series from the start, so the stock-out alert's ratio reads 0 rather than nothing.
  ordersDeclined.inc({ reason: "insufficient-stock" }, 0);
  const unitsSold = new client.Counter({ name: "order_units_sold_total", help: "Units sold across all orders.", registers });
  const ordersCancelled = new client.Counter({ name: "orders_cancelled_total", help: "Orders cancelled.", registers });
  const unitsReturned = new client.Counter({
    name: "order_units_returned_total",
    help: "Units put back in stock by cancelled orders (lines of deleted products are not restocked).",
    registers,
  });
  const queryDuration = new client.Histogram({
    name: "db_query_duration_seconds",
    help: "Duration of database operations issued through Prisma.",
    labelNames: ["model", "operation"],
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  const readsPerStatement = new client.Histogram({
    name: "db_coalesced_reads",
    help: "Reads of a product by id served by one statement: concurrent requests share it.",
    buckets: [1, 2, 4, 8, 16, 32, 64, 100],
    registers,
  });
  const pools: pg.Pool[] = [];
  new client.Gauge({
    name: "db_pool_connections",
    help: "Database pool connections by state.",
    labelNames: ["state"],
    registers,
    collect() {
      const sum = (pick: (pool: pg.Pool) => number) => pools.reduce((total, pool) => total + pick(pool), 0);
      this.set(
        { state: "total" },
        sum((p) => p.totalCount),
      );
      this.set(
        { state: "idle" },
        sum((p) => p.idleCount),
      );
      this.set(
        { state: "waiting" },
        sum((p) => p.waitingCount),
      );
    },
  });
  new client.Gauge({
    name: "db_pool_max_connections",
    help: "Connections the database pool may open (DB_POOL_MAX).",
    registers,
    collect() {
      this.set(pools.reduce((total, pool) => total + (pool.options.max ?? 10), 0));
    },
  });

  let readiness: (() => Promise<boolean>) | undefined;
  new client.Gauge({
    name: "service_ready",
    help: "1 when this process is ready to serve (not shutting down, the database answers), as /readyz.",
    registers,
    async collect() {
      if (readiness) this.set((await readiness()) ? 1 : 0);
    },
  });
  const storeUp = new client.Gauge({
    name: "rate_limit_store_up",
    help: "1 while the shared rate-limit store (REDIS_URL) answers; 0 while limits fall back to this process's memory. Absent without REDIS_URL.",
    labelNames: ["store"],
    registers,
  });
  const storeErrors = new client.Counter({
    name: "rate_limit_store_errors_total",
    help: "Rate-limit checks the shared store could not answer (counted in this process's memory instead).",
    labelNames: ["store"],
    registers,
  });
  const coordinationUp = new client.Gauge({
    name: "coordination_connection_up",
    help: "1 while this process's PostgreSQL LISTEN connection is open (product counts fresh across replicas).",
    registers,
  });
  const leader = new client.Gauge({
    name: "periodic_jobs_leader",
    help: "1 on the one process of the deployment that runs the periodic jobs (it holds the advisory lock).",
    registers,
  });
  const poolErrors = new client.Counter({
    name: "db_pool_errors_total",
    help: "Idle database connections that failed (their server went away); the pool replaced them.",
    registers,
  });
  const poolWaitTimeouts = new client.Counter({
    name: "db_pool_wait_timeouts_total",
    help: 'Requests that waited DB_POOL_WAIT_MS for a database connection in vain, by verdict: "overloaded" (every connection busy while the database answered: answered 503 overloaded), "database-unavailable" (the database stopped answering).',
    labelNames: ["verdict"],
    registers,
  });
  // Both series exist from the start, so that rates and alerts read 0 rather than nothing.
  for (const verdict of ["overloaded", "database-unavailable"]) poolWaitTimeouts.inc({ verdict }, 0);
  const readsServed = new client.Counter({
    name: "db_reads_total",
    help: "Catalogue reads by where they were served: the primary, or the read replica (DATABASE_READ_URL).",
    labelNames: ["target"],
    registers,
  });
  const replicaLag = new client.Gauge({
    name: "db_replica_lag_seconds",
    help: "How far the read replica's replay is behind (seconds since the last replayed commit while WAL waits to be replayed); +Inf while it does not answer, 0 without DATABASE_READ_URL.",
    registers,
  });
  replicaLag.set(0);
  const replicaUp = new client.Gauge({ name: "db_replica_up", help: "1 while the read replica (DATABASE_READ_URL) answers.", registers });
  const jobRuns = new client.Counter({
    name: "periodic_job_runs_total",
    help: "Runs of periodic jobs, by job and outcome.",
    labelNames: ["job", "outcome"],
    registers,
  });

  const webhookAttempts = new client.Counter({
    name: "webhook_delivery_attempts_total",
    help: "Webhook delivery attempts by outcome: delivered (2xx), retrying (failed, tried again later), failed (last attempt, or 410).",
    labelNames: ["outcome"],
    registers,
  });
  for (const outcome of ["delivered", "retrying", "failed"]) webhookAttempts.inc({ outcome }, 0);
  const webhookDuration = new client.Histogram({
    name: "webhook_attempt_duration_seconds",
    help: "How long webhook endpoints took to answer an attempt (or to time out).",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
    registers,
  });
  let backlog: (() => Promise<{ pending: number; oldestAgeSeconds: number; disabledEndpoints: number }>) | undefined;
  let lastBacklog: Promise<{ pending: number; oldestAgeSeconds: number; disabledEndpoints: number } | undefined> | undefined;
  // One query per scrape for the three gauges.
  const readBacklog = () => {
    lastBacklog ??= (backlog?.() ?? Promise.resolve(undefined)).catch(() => undefined).finally(() => setImmediate(() => (lastBacklog = undefined)));
    return lastBacklog;
  };
  const backlogGauge = (name: string, help: string, pick: (b: { pending: number; oldestAgeSeconds: number; disabledEndpoints: number }) => number) =>
    new client.Gauge({
      name,
      help,
      registers,
      async collect() {
        const read = await readBacklog();
        if (read) this.set(pick(read));
      },
    });
  backlogGauge("webhook_deliveries_pending", "Webhook deliveries waiting to be delivered to enabled endpoints (the whole deployment).", (b) => b.pending);
  backlogGauge(
    "webhook_oldest_pending_age_seconds",
    "Age of the oldest webhook delivery still pending for an enabled endpoint (0 when none); the whole deployment.",
    (b) => b.oldestAgeSeconds,
  );
  backlogGauge("webhook_endpoints_disabled", "Webhook endpoints disabled (by an admin, a 410 answer, or failing too long).", (b) => b.disabledEndpoints);

  return {
    registry,
    webhooks: {
      attempt(outcome, seconds) {
        webhookAttempts.inc({ outcome });
        webhookDuration.observe(seconds);
      },
      watchBacklog(read) {
        backlog = read;
      },
    },
    orderEvents: {
      placed(result) {
        ordersPlaced.inc();
        unitsSold.inc(result.unitsSold);
      },
      declined(reason: string) {
        ordersDeclined.inc({ reason });
      },
      cancelled(result) {
        ordersCancelled.inc();
        unitsReturned.inc(result.unitsReturned);
      },
    },
    observeQuery(model, operation, seconds) {
      queryDuration.observe({ model, operation }, seconds);
    },
    coalescedReads(reads) {
      readsPerStatement.observe(reads);
    },
    watchPool(pool) {
      pools.push(pool);
    },
    poolError() {
      poolErrors.inc();
    },
    poolWaitTimedOut(verdict) {
      poolWaitTimeouts.inc({ verdict });
    },
    readServed(target) {
      readsServed.inc({ target });
    },
    replicaLag(seconds) {
      replicaUp.set(seconds === undefined ? 0 : 1);
      replicaLag.set(seconds ?? Number.POSITIVE_INFINITY);
    },
    watchReadiness(check) {
      readiness = check;
    },
    rateLimitStore: {
      up: (up) => storeUp.set({ store: "redis" }, up ? 1 : 0),
      failed: () => storeErrors.inc({ store: "redis" }),
    },
    coordination(state) {
      coordinationUp.set(state.connected ? 1 : 0);
      leader.set(state.leader ? 1 : 0);
    },
    jobRun(job, outcome) {
      jobRuns.inc({ job, outcome });
    },
  };
}
