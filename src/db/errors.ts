/** Error codes that mean "the database cannot be reached right now", not "the query is wrong". */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "08000",
  "08001",
  "08003",
  "08006",
  "P1001", // Prisma: can't reach database server
  "P1017", // Prisma: server closed the connection
  "P2024", // Prisma: timed out fetching a connection from the pool
]);

const UNAVAILABLE_MESSAGES = [/connection terminated/i, /connection refused/i, /timeout exceeded when trying to connect/i, /ECONNREFUSED/, /Connection terminated/];

/** True when an error (or one of its causes) says the database is unreachable. */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== "object" || depth > 5) return false;
  const e = error as { code?: unknown; originalCode?: unknown; message?: unknown; cause?: unknown; kind?: unknown };
  for (const code of [e.code, e.originalCode]) {
    if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
  }
  if (e.kind === "DatabaseNotReachable" || e.kind === "ConnectionClosed" || e.kind === "SocketTimeout") return true;
  if (typeof e.message === "string" && UNAVAILABLE_MESSAGES.some((re) => re.test(e.message as string))) return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}

/** True for PostgreSQL serialization failures and deadlocks, which are safe to retry. */
export function isTransientConflict(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== "object" || depth > 5) return false;
  const e = error as { code?: unknown; originalCode?: unknown; cause?: unknown; kind?: unknown };
  if (e.code === "P2034") return true;
  if (e.originalCode === "40001" || e.originalCode === "40P01" || e.code === "40001" || e.code === "40P01") return true;
  if (e.kind === "TransactionWriteConflict") return true;
  return isTransientConflict(e.cause, depth + 1);
}
