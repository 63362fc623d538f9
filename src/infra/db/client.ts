import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../../generated/prisma/client.js";
import { isDatabaseUnavailable } from "./errors.js";
import { FailoverPool } from "./failover-pool.js";
import { retryConnectionLoss } from "./failover-retry.js";
import { WaitAwarePool, type PoolWaitVerdict, type WaitAwarePoolOptions } from "./pool-wait.js";
import { preparedRawName } from "./prepared-raw.js";

export interface DatabaseClient {
  prisma: PrismaClient;
  /** The pool behind Prisma's adapter, for readiness checks and pool metrics. */
  pool: pg.Pool;
  /** Runs a SQL statement on the primary's pool (writes, and reads that must see every commit), timed like Prisma's operations. */
  query: SqlRunner;
  /**
   * Runs a read that may be served by the read replica (DATABASE_READ_URL) while it is within the
   * allowed lag and the request's client did not just write; else like `query`, run again on a new
   * connection when the first was lost. Never a write: a replica refuses it.
   */
  readQuery: SqlRunner;
  close(): Promise<void>;
}

/**
 * A statement for the pool, built once (never per request). Prepared once per connection under
 * its name (unless the pool is told not to), so PostgreSQL parses and plans a hot read once
 * instead of on every request; the embedded server gives every connection names of its own
 * (src/infra/db/pglite-server.ts).
 */
export interface Statement {
  text: string;
  /**
   * Distinct for each distinct text. None when the best plan depends on the values too much to
   * share one: such a statement is sent unnamed, parsed and planned for its values every time.
   */
  name?: string;
  /** Labels for db_query_duration_seconds. */
  model: string;
  operation: string;
}

export type SqlRunner = <Row extends pg.QueryResultRow>(statement: Statement, values: unknown[]) => Promise<Row[]>;

export interface DatabaseClientOptions extends DatabaseWaits {
  poolMax: number;
  /**
   * Prepare SqlRunner statements under names (DB_PREPARED_STATEMENTS, on by default). Off for a
   * pooler between the service and PostgreSQL that cannot keep named statements (PgBouncer in
   * transaction mode before 1.21, or with max_prepared_statements = 0).
   */
  preparedStatements?: boolean;
  /** Server-side limits of every statement and every wait for a row lock (DB_STATEMENT_TIMEOUT_MS, DB_LOCK_TIMEOUT_MS). */
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
  /** Called after every Prisma operation with its duration. */
  observeQuery?: (model: string, operation: string, seconds: number) => void;
  /** Told when an idle connection fails (its server went away); the pool drops it either way. */
  onPoolError?: (err: Error) => void;
  /** Told when work waited acquireTimeoutMs for a connection in vain, and why (src/infra/db/pool-wait.ts). */
  onPoolWaitTimeout?: (verdict: PoolWaitVerdict) => void;
  /** A read replica for SqlRunner's reads (DATABASE_READ_URL), and when to use it. */
  replica?: ReplicaOptions;
}

export interface ReplicaOptions {
  url: string;
  /** Lag beyond which reads go to the primary (DB_READ_MAX_LAG_MS). */
  maxLagMs: number;
  /** True when the current request must read from the primary (its client just wrote). */
  readsFromPrimary(): boolean;
  observeRead?(target: "primary" | "replica"): void;
  /** The replica's lag in seconds at each check, or undefined when it did not answer. */
  observeLag?(seconds: number | undefined): void;
  checkIntervalMs?: number;
}

/**
 * How long work may wait for one of the pool's connections when all are busy (acquireTimeoutMs),
 * and for a new connection to be opened (connectTimeoutMs). Separate because they mean different
 * things: a queue for a busy pool is load and may be long (a burst is served rather than refused);
 * a server that does not accept a connection within seconds is away, and waiting longer helps no one.
 */
export interface DatabaseWaits {
  acquireTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/**
 * On PostgreSQL, a burst of work queues for the pool's connections for up to 10 s (DB_POOL_WAIT_MS
 * sets it), well below what HTTP clients usually wait (30 s and more), and then answers `overloaded`;
 * a connection PostgreSQL does not accept within 3 s fails at once (the database is unavailable).
 * The embedded database is never away but runs one statement at a time, so its queue is the load
 * itself: waiting is the right answer there (see database-url.ts).
 */
export const POSTGRES_WAITS: Required<DatabaseWaits> = { acquireTimeoutMs: 10_000, connectTimeoutMs: 3_000 };
/**
 * Prisma's own limit on starting a transaction (maxWait) runs from the same moment as the pool's
 * wait: set beyond it, so the pool's verdict (overloaded, or unavailable) is always the one given.
 */
const TRANSACTION_WAIT_MARGIN_MS = 1_000;

/**
 * A stall answers 503 within seconds instead of a 500 after many: a row locked too long fails
 * the statement at lock_timeout, a slow statement at statement_timeout, a server that stopped
 * answering at the client's query_timeout, all below an order transaction's timeout
 * (src/orders/orders-repository.ts), and src/infra/db/errors.ts classifies them all as "unavailable".
 */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;
export const DEFAULT_LOCK_TIMEOUT_MS = 3_000;
/** How much longer than statement_timeout the client waits for an answer before giving up on the server. */
const CLIENT_GRACE_MS = 2_000;
/** pg's largest timer: in effect, no timer. */
const NO_READ_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * A connection whose COMMIT waits for the server's verdict however long it takes. Giving up on a
 * COMMIT does not undo it: a server that resumes commits anyway, so a read timeout there would
 * report a written order as failed. The caller bounds how long it waits for the answer
 * (src/orders/orders-repository.ts) and learns the outcome itself; every other statement keeps
 * the pool's query_timeout.
 */
export class CommitAwaitingClient extends pg.Client {
  // biome-ignore lint/suspicious/noExplicitAny: pg.Client.query's overloads, passed through unchanged
  override query(config: any, values?: any, callback?: any): any {
    const isCommit = typeof config === "object" && config !== null && typeof config.text === "string" && /^\s*COMMIT\s*;?\s*$/i.test(config.text);
    return super.query(isCommit ? { ...config, query_timeout: NO_READ_TIMEOUT_MS } : config, values, callback);
  }
}

/** CommitAwaitingClient giving up on opening its connection after `connectTimeoutMs`, whatever the pool's wait. */
function connectingWithin(connectTimeoutMs: number): typeof CommitAwaitingClient {
  return class extends CommitAwaitingClient {
    constructor(config?: pg.ClientConfig) {
      super({ ...config, connectionTimeoutMillis: connectTimeoutMs });
    }
  };
}

export function createDatabaseClient(url: string, options: DatabaseClientOptions): DatabaseClient {
  const waits = { ...POSTGRES_WAITS, ...options };
  const statementTimeout = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  // A database whose queue is its load (the embedded one) may take as long to answer as to hand
  // out a connection; PostgreSQL gets statement_timeout plus a little.
  const replyTimeout = Math.max(statementTimeout + CLIENT_GRACE_MS, waits.connectTimeoutMs);
  // pg-pool's connectionTimeoutMillis bounds both the wait in its queue and the opening of a
  // connection; each client's own connectionTimeoutMillis ends a connection attempt sooner.
  const Client = connectingWithin(waits.connectTimeoutMs);
  const poolOptions = (connectionString: string) =>
    ({
      connectionString,
      max: options.poolMax,
      connectionTimeoutMillis: waits.acquireTimeoutMs,
      onWaitTimeout: options.onPoolWaitTimeout,
      idleTimeoutMillis: 30_000,
      statement_timeout: statementTimeout,
      lock_timeout: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
      query_timeout: replyTimeout,
      // A connection whose server vanished without closing it (a dead host) is found out by TCP.
      keepAlive: true,
      Client,
    }) satisfies WaitAwarePoolOptions;
  // The primary's pool holds work that failed safely in a failover until a new primary is back
  // (failover-pool.ts); the replica's does not: its reads fall back to the primary instead.
  const pool: pg.Pool = new FailoverPool(poolOptions(url));
  // An idle client whose server went away emits 'error'; the pool drops it and reconnects later.
  // Without a listener the error would end the process.
  pool.on("error", (err) => options.onPoolError?.(err));
  const prepared = options.preparedStatements ?? true;
  // The adapter passes the generator's answer on as pg's `name`, where undefined (any text not
  // registered in prepared-raw.ts) is an unnamed statement; its type asks for a string regardless.
  const adapter = new PrismaPg(pool, prepared ? { statementNameGenerator: preparedRawName as (query: { sql: string }) => string } : undefined);
  const base = new PrismaClient({ adapter, transactionOptions: { maxWait: waits.acquireTimeoutMs + TRANSACTION_WAIT_MARGIN_MS } });
  const prisma = options.observeQuery ? withQueryTimings(base, options.observeQuery) : base;
  const observe = options.observeQuery;
  const toQuery = queryConfigs(prepared);
  const replica = options.replica ? startReplica(new WaitAwarePool(poolOptions(options.replica.url)), options.replica, options.onPoolError) : undefined;
  for (const each of [pool, replica?.pool]) {
    // A client in use has no listener of the pool's, and Prisma's adapter listens only inside its
    // transactions: a connection ending while checked out (a failover's 57P01) would otherwise be an
    // uncaught 'error' that ends the process. Its user sees the failure as the query's error anyway.
    each?.on("connect", (client) => client.on("error", () => {}));
  }
  const timed =
    (run: <Row extends pg.QueryResultRow>(config: pg.QueryConfig) => Promise<Row[]>): SqlRunner =>
    async <Row extends pg.QueryResultRow>(statement: Statement, values: unknown[]) => {
      const started = process.hrtime.bigint();
      try {
        return await run<Row>(toQuery(statement, values));
      } finally {
        observe?.(statement.model, statement.operation, Number(process.hrtime.bigint() - started) / 1e9);
      }
    };
  const query = timed(async <Row extends pg.QueryResultRow>(config: pg.QueryConfig) => (await pool.query<Row>(config)).rows);
  const readQuery = timed(async <Row extends pg.QueryResultRow>(config: pg.QueryConfig) => {
    if (replica?.usable()) {
      const rows = await replica.pool.query<Row>(config).then(
        (result) => {
          options.replica?.observeRead?.("replica");
          return result.rows;
        },
        (error: unknown) => replica.failed(error),
      );
      if (rows) return rows;
    }
    options.replica?.observeRead?.("primary");
    // Reads only: run again on a new connection when the first one was lost.
    return (await retryConnectionLoss(() => pool.query<Row>(config))).rows;
  });
  return {
    prisma,
    pool,
    query,
    readQuery,
    async close() {
      await prisma.$disconnect();
      await Promise.all([pool.end().catch(() => {}), replica?.close()]);
    },
  };
}

/**
 * The replica's lag: nothing when it has replayed all it received, else the time since the last
 * commit it replayed (replay paused or slow while WAL keeps arriving). NULL on a primary.
 */
const LAG_QUERY = `SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL
  WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
  ELSE greatest(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp())) END::float8 AS lag`;
const REPLICA_CHECK_MS = 500;

/**
 * The read replica's pool, checked every half second: reads go there while it answers, its lag
 * is within the bound and the request's client did not just write; otherwise to the primary.
 */
function startReplica(pool: pg.Pool, options: ReplicaOptions, onPoolError?: (err: Error) => void) {
  let lagMs: number | undefined;
  // An idle connection lost: counted like the primary's; the next check finds out whether the replica is down.
  pool.on("error", (err) => onPoolError?.(err));
  const check = async () => {
    try {
      const lag = (await pool.query<{ lag: number | null }>(LAG_QUERY)).rows[0]?.lag;
      // A promoted replica (NULL) is as current as a primary can be.
      lagMs = (lag ?? 0) * 1000;
    } catch {
      lagMs = undefined;
    }
    options.observeLag?.(lagMs === undefined ? undefined : lagMs / 1000);
  };
  void check();
  const timer = setInterval(() => void check(), options.checkIntervalMs ?? REPLICA_CHECK_MS).unref();
  return {
    pool,
    usable: () => lagMs !== undefined && lagMs <= options.maxLagMs && !options.readsFromPrimary(),
    /** A failed replica read: when the replica is away, undefined (read from the primary instead); else the error. */
    failed(error: unknown): undefined {
      if (!isDatabaseUnavailable(error)) throw error;
      lagMs = undefined;
      return undefined;
    },
    async close() {
      clearInterval(timer);
      await pool.end().catch(() => {});
    },
  };
}

/** Turns statements into pg query configs: named when `prepared` and the statement has a name, else unnamed. */
export function queryConfigs(prepared: boolean): (statement: Statement, values: unknown[]) => pg.QueryConfig {
  return prepared ? ({ name, text }, values) => (name ? { name, text, values } : { text, values }) : ({ text }, values) => ({ text, values });
}

function withQueryTimings(prisma: PrismaClient, observe: NonNullable<DatabaseClientOptions["observeQuery"]>): PrismaClient {
  const extended = prisma.$extends({
    query: {
      async $allOperations({ model, operation, args, query }) {
        const started = process.hrtime.bigint();
        try {
          return await query(args);
        } finally {
          observe(model ?? "raw", operation, Number(process.hrtime.bigint() - started) / 1e9);
        }
      },
    },
  });
  // The extension only observes; the client's API is unchanged.
  return extended as unknown as PrismaClient;
}
