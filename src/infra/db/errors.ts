import { Prisma } from "../../../generated/prisma/client.js";
import { overloaded, serviceUnavailable, type AppError } from "../../errors/app-error.js";

// The one place that reads Prisma's and pg's errors: what they mean for a request.

/**
 * The connection is gone or reaches a server that cannot take this work now: what a failover
 * looks like from here (docs/guides/high-availability.md). The statement did not run, or its
 * connection died under it; another connection (to the new primary) may succeed.
 */
const CONNECTION_LOST_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "57P01", // admin_shutdown: a switchover, or a backend ended because its postmaster died
  "57P02", // crash_shutdown: another backend crashed, the server resets
  "57P03", // cannot_connect_now: starting up, shutting down, in recovery
  "25006", // read_only_sql_transaction: a write reached a standby (a demoted or not yet promoted node)
  "08000", // connection_exception
  "08001", // sqlclient_unable_to_establish_sqlconnection
  "08003", // connection_does_not_exist
  "08004", // sqlserver_rejected_establishment_of_sqlconnection
  "08006", // connection_failure
  "08007", // transaction_resolution_unknown
  "53300", // too_many_connections: every client reconnecting at once after a failover
  "P1001", // Prisma: can't reach database server
  "P1017", // Prisma: server closed the connection
]);
const CONNECTION_LOST_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed"]);
// "timeout expired": pg's own limit on opening a connection (connectTimeoutMs, src/infra/db/client.ts) ran out.
const CONNECTION_LOST_MESSAGE = /connection terminated|ECONNREFUSED|connection refused|not queryable|Connection closed|^timeout expired$/i;

/**
 * Every connection of the pool stayed busy for the whole wait while the database kept answering
 * (src/infra/db/pool-wait.ts): the service has more work than connections, the database is fine.
 */
const SATURATED_CODES = new Set([
  "POOL_SATURATED",
  "P2024", // Prisma: timed out fetching a connection from its own pool
]);

/** Error codes that mean "the database cannot be reached right now", not "the query is wrong". */
const UNAVAILABLE_CODES = new Set([
  ...CONNECTION_LOST_CODES,
  // A stall: a row held longer than lock_timeout, a statement longer than statement_timeout.
  "55P03", // lock_not_available
  "57014", // query_canceled
]);
const UNAVAILABLE_KINDS = new Set([...CONNECTION_LOST_KINDS, "SocketTimeout"]);
const UNAVAILABLE_MESSAGE = new RegExp(`${CONNECTION_LOST_MESSAGE.source}|timeout exceeded when trying to connect|Query read timeout`, "i");
/** P2028 is every transaction-manager error; only these two mean "the database is too slow now". */
const TRANSACTION_STALLED = /Unable to start a transaction in the given time|cannot be executed on an expired transaction/i;

/** PostgreSQL serialization failure and deadlock, and Prisma's name for them: safe to retry. */
const TRANSIENT_CODES = new Set(["40001", "40P01", "P2034"]);

interface ErrorLike {
  code?: unknown;
  originalCode?: unknown;
  kind?: unknown;
  message?: unknown;
  /** pg's name of the violated constraint; Prisma's adapter's `{ index }` for a foreign key. */
  constraint?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: unknown };
}

/** The error and what it wraps: `cause` chains and Prisma's `meta.driverAdapterError`. */
function* errorChain(error: unknown, depth = 0): Generator<ErrorLike> {
  if (!error || typeof error !== "object" || depth > 5) return;
  const e = error as ErrorLike;
  yield e;
  yield* errorChain(e.cause, depth + 1);
  yield* errorChain(e.meta?.driverAdapterError, depth + 1);
}

const codesOf = (e: ErrorLike) => [e.code, e.originalCode].filter((code): code is string => typeof code === "string");

/**
 * True when the connection was lost or reached a server that cannot do the work (see
 * CONNECTION_LOST_CODES): worth one more try on a new connection, unlike a stall (a lock or
 * statement timeout, an exhausted pool), which a retry only makes worse.
 */
export function isConnectionLost(error: unknown): boolean {
  for (const e of errorChain(error)) {
    if (codesOf(e).some((code) => CONNECTION_LOST_CODES.has(code))) return true;
    if (typeof e.kind === "string" && CONNECTION_LOST_KINDS.has(e.kind)) return true;
    if (typeof e.message === "string" && CONNECTION_LOST_MESSAGE.test(e.message)) return true;
  }
  return false;
}

/** True when the work waited in vain for a connection of a pool busy with other work (see SATURATED_CODES). */
export function isPoolSaturated(error: unknown): boolean {
  for (const e of errorChain(error)) if (codesOf(e).some((code) => SATURATED_CODES.has(code))) return true;
  return false;
}

/** True when an error (or one it wraps) says the database is unreachable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (const e of errorChain(error)) {
    if (codesOf(e).some((code) => UNAVAILABLE_CODES.has(code))) return true;
    if (typeof e.kind === "string" && UNAVAILABLE_KINDS.has(e.kind)) return true;
    if (typeof e.message === "string" && UNAVAILABLE_MESSAGE.test(e.message)) return true;
    if (codesOf(e).includes("P2028") && typeof e.message === "string" && TRANSACTION_STALLED.test(e.message)) return true;
  }
  return false;
}

/** True for serialization failures and deadlocks, which a transaction may simply run again. */
export function isTransientConflict(error: unknown): boolean {
  for (const e of errorChain(error)) {
    if (codesOf(e).some((code) => TRANSIENT_CODES.has(code)) || e.kind === "TransactionWriteConflict") return true;
  }
  return false;
}

/**
 * True when the server itself answered with an error (a pg error carries its severity; Prisma's
 * adapter keeps the SQLSTATE as `originalCode`): for a COMMIT, proof that nothing was committed.
 * A timeout or a lost connection is not: the server may have committed anyway.
 */
export function isRefusedByServer(error: unknown): boolean {
  for (const e of errorChain(error)) {
    const severity = (e as { severity?: unknown }).severity;
    if (typeof severity === "string" && severity !== "N/A") return true;
    if (typeof e.originalCode === "string" && /^[0-9A-Z]{5}$/.test(e.originalCode) && !UNAVAILABLE_CODES.has(e.originalCode)) return true;
  }
  return false;
}

/** A unique constraint refused the write (Prisma's P2002, or PostgreSQL's 23505 through raw SQL). */
export function isUniqueViolation(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002") return true;
  for (const e of errorChain(error)) if (codesOf(e).includes("23505")) return true;
  return false;
}

/**
 * A foreign key refused the write (PostgreSQL's 23503; Prisma's P2003): the row it points to is
 * gone. With `constraints`, only a violation of one of these (by name) counts.
 */
export function isForeignKeyViolation(error: unknown, constraints?: readonly string[]): boolean {
  for (const e of errorChain(error)) {
    if (!(codesOf(e).some((code) => code === "23503" || code === "P2003") || e.kind === "ForeignKeyConstraintViolation")) continue;
    if (constraints === undefined || constraints.includes(constraintName(e) ?? "")) return true;
  }
  return false;
}

function constraintName(e: ErrorLike): string | undefined {
  if (typeof e.constraint === "string") return e.constraint;
  const index = (e.constraint as { index?: unknown } | null | undefined)?.index;
  return typeof index === "string" ? index : undefined;
}

/** An update or delete found no row (Prisma's P2025). */
export function isRecordMissing(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2025";
}

/**
 * The error a database failure is for the client: no connection free in time while the database
 * answers → overloaded; unreachable, stalled on a lock or a statement timeout → service
 * unavailable (try again shortly). Serialization failures and deadlocks are
 * retried where transactions run (isTransientConflict); one still failing after its retries, like
 * any other database error, is ours (undefined here: an internal error).
 */
export function fromDatabaseError(error: unknown): AppError | undefined {
  if (isPoolSaturated(error)) return overloaded("The service is overloaded: no database connection became free in time; try again shortly.", { cause: error });
  if (isDatabaseUnavailable(error)) return serviceUnavailable("The database is unavailable; try again shortly.");
  return undefined;
}

/** For a repository's catch: `unique` when a unique constraint refused the write, else the error as it was. */
export function uniqueViolationAs(error: unknown, unique: () => AppError): unknown {
  return isUniqueViolation(error) ? unique() : error;
}
