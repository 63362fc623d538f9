import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../../generated/prisma/client.js";

export interface DatabaseClient {
  prisma: PrismaClient;
  /** The pool behind Prisma's adapter, for readiness checks and pool metrics. */
  pool: pg.Pool;
  /** Runs a SQL statement on the same pool, timed like Prisma's operations. */
  query: SqlRunner;
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
}

/** How long work may wait for a connection, and a transaction to begin, before it fails. */
export interface DatabaseWaits {
  acquireTimeoutMs?: number;
  transactionWaitMs?: number;
}

/**
 * On PostgreSQL, fail fast while the database is away instead of queueing requests until
 * clients time out. The embedded database is never away but runs one statement at a time, so
 * its queue is the load itself: waiting is the right answer there (see database-url.ts).
 */
const POSTGRES_WAITS: Required<DatabaseWaits> = { acquireTimeoutMs: 3_000, transactionWaitMs: 5_000 };

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

export function createDatabaseClient(url: string, options: DatabaseClientOptions): DatabaseClient {
  const waits = { ...POSTGRES_WAITS, ...options };
  const statementTimeout = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  // A database whose queue is its load (the embedded one) may take as long to answer as to hand
  // out a connection; PostgreSQL gets statement_timeout plus a little.
  const replyTimeout = Math.max(statementTimeout + CLIENT_GRACE_MS, waits.acquireTimeoutMs);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax,
    connectionTimeoutMillis: waits.acquireTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: statementTimeout,
    lock_timeout: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    query_timeout: replyTimeout,
  });
  // An idle client whose server went away emits 'error'; the pool drops it and reconnects later.
  // Without a listener the error would end the process.
  pool.on("error", (err) => options.onPoolError?.(err));
  const base = new PrismaClient({ adapter: new PrismaPg(pool), transactionOptions: { maxWait: waits.transactionWaitMs } });
  const prisma = options.observeQuery ? withQueryTimings(base, options.observeQuery) : base;
  const observe = options.observeQuery;
  const toQuery = queryConfigs(options.preparedStatements ?? true);
  const query: SqlRunner = async <Row extends pg.QueryResultRow>(statement: Statement, values: unknown[]) => {
    const started = process.hrtime.bigint();
    try {
      return (await pool.query<Row>(toQuery(statement, values))).rows;
    } finally {
      observe?.(statement.model, statement.operation, Number(process.hrtime.bigint() - started) / 1e9);
    }
  };
  return {
    prisma,
    pool,
    query,
    async close() {
      await prisma.$disconnect();
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
