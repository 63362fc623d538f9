// Whether the database URLs reach PostgreSQL in a way this configuration can work with. A
// transaction-mode pooler (PgBouncer, Supavisor, RDS Proxy) gives each transaction whichever
// server connection is free: named prepared statements made on one are missing on the next
// (PgBouncer before 1.21, or with max_prepared_statements = 0), and LISTEN or a session advisory
// lock hold nothing. Found out at start-up, so such a deployment fails with an explanation
// instead of answering with errors (or, for the jobs lock, running the jobs twice).
import pg from "pg";
import type { Config } from "../config.js";
import { describeDatabaseUrl } from "./checks.js";
import { StartupError } from "./error.js";

export interface SessionFacts {
  /** The connection keeps its own server session between transactions (no transaction-mode pooler). */
  sessionKept: boolean;
  /** A statement prepared under a name in one transaction can be run by name in the next. */
  namedStatementsKept: boolean;
}

const PROBE_STATEMENT = { name: "order_service_pooler_probe", text: "SELECT pg_backend_pid() AS pid" };
/** How long the probe waits for a server connection while another client holds one (a pool of one). */
const WAIT_MS = 2_000;

/**
 * Prepares a named statement on connection A, makes connection B hold a transaction (a pooler
 * hands B the server connection A just used), then runs the statement by name on A again: on a
 * connection of its own it runs there; through a transaction-mode pooler it runs on another
 * server connection, where the name is unknown unless the pooler prepares it itself.
 */
export async function probeSession(url: string): Promise<SessionFacts> {
  const [a, b] = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })];
  for (const client of [a, b]) client.on("error", () => {});
  try {
    await Promise.all([a.connect(), b.connect()]);
    const first = (await a.query<{ pid: number }>(PROBE_STATEMENT)).rows[0]!.pid;
    await b.query("BEGIN");
    await b.query("SELECT pg_backend_pid()");
    const again = a.query<{ pid: number }>(PROBE_STATEMENT).then(
      (result) => ({ pid: result.rows[0]!.pid }),
      (error: { code?: string }) => ({ error }),
    );
    // A pool of a single server connection: A waits for B's; let B go, A then runs where it was prepared.
    const held = setTimeout(() => void b.query("COMMIT").catch(() => {}), WAIT_MS);
    const second = await again;
    clearTimeout(held);
    if ("error" in second && second.error.code !== "26000") throw second.error;
    return { sessionKept: "pid" in second && second.pid === first, namedStatementsKept: "pid" in second };
  } finally {
    await Promise.all([a.end().catch(() => {}), b.end().catch(() => {})]);
  }
}

/** Fails when DATABASE_URL or the coordination URL reaches PostgreSQL in a way this configuration cannot use. */
export async function checkPooling(config: Config, probe = probeSession): Promise<void> {
  if (!config.DATABASE_URL) return;
  const database = await probe(config.DATABASE_URL);
  if (config.DB_PREPARED_STATEMENTS && !database.namedStatementsKept) {
    throw new StartupError(
      `DATABASE_URL (${describeDatabaseUrl(config.DATABASE_URL)}) goes through a pooler that does not keep named prepared statements between transactions ` +
        "(PgBouncer in transaction mode before 1.21, or with max_prepared_statements = 0): the catalogue's reads would fail. " +
        "Start with DB_PREPARED_STATEMENTS=false, or give the pooler max_prepared_statements (PgBouncer >= 1.21), or use session mode.",
    );
  }
  const coordinationUrl = config.COORDINATION_DATABASE_URL ?? config.DATABASE_URL;
  const coordination = coordinationUrl === config.DATABASE_URL ? database : await probe(coordinationUrl);
  if (!coordination.sessionKept) {
    const name = config.COORDINATION_DATABASE_URL ? "COORDINATION_DATABASE_URL" : "DATABASE_URL";
    throw new StartupError(
      `${name} (${describeDatabaseUrl(coordinationUrl)}) goes through a transaction-mode pooler, but the coordination connection needs a session of its own ` +
        "(LISTEN for cache changes, a session advisory lock electing the jobs runner). " +
        "Set COORDINATION_DATABASE_URL to PostgreSQL directly (or to a session-mode pool), keeping DATABASE_URL on the pooler.",
    );
  }
}
