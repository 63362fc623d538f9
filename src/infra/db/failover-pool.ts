import pg from "pg";
import { isConnectionLost } from "./errors.js";
import { PrimaryWatch } from "./failover-retry.js";
import { WaitAwarePool, type WaitAwarePoolOptions } from "./pool-wait.js";

// The primary's pool, holding work that failed safely during a failover or a switchover until a
// new primary takes writes (PrimaryWatch, bounded), then running it once more, instead of
// answering 503 at once (docs/guides/high-availability.md, "Retry rules"). Safely means nothing
// was written: a connection that could not be opened, a statement never sent, a write a standby
// refused (25006), or a read cut by a lost connection. An autocommit write cut while it ran may
// have committed: it is never run again. Transactions (checked-out clients) are held only while
// connecting; what happens after is their caller's (runFailoverSafe).

/** A statement that only reads: whatever it got to do before the cut, running it again is harmless. */
const READS = /^\s*(SELECT|WITH|SHOW|VALUES|TABLE)\b/i;
const WRITES = /\b(INSERT|UPDATE|DELETE|MERGE|NOTIFY|nextval|setval|pg_notify|pg_advisory\w*)\b/i;
/** Refused by the server before the statement ran: a write reaching a standby. */
const REFUSED_BEFORE_RUNNING = new Set(["25006"]);
/** pg's words for a client whose connection had already failed: the statement was never sent. */
const NEVER_SENT = /not queryable/i;
const PROBE_TIMEOUT_MS = 1_000;

const textOf = (statement: unknown): string =>
  typeof statement === "string" ? statement : typeof (statement as { text?: unknown } | null)?.text === "string" ? (statement as { text: string }).text : "";

/** Whether `statement`, failed with `error`, may run again once a primary is back: it cannot have written anything. */
export function safeToRunAgain(statement: unknown, error: unknown): boolean {
  if (!isConnectionLost(error)) return false;
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e.code === "string" && REFUSED_BEFORE_RUNNING.has(e.code)) return true;
  if (typeof e.message === "string" && NEVER_SENT.test(e.message)) return true;
  const text = textOf(statement);
  return READS.test(text) && !WRITES.test(text);
}

/** Whether the server at `url` answers and takes writes (not a standby): a fresh connection each time. */
export async function acceptsWrites(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS, query_timeout: PROBE_TIMEOUT_MS });
  client.on("error", () => {}); // a probe's connection may die with the server it asks
  try {
    await client.connect();
    const { rows } = await client.query<{ standby: boolean }>("SELECT pg_is_in_recovery() AS standby");
    return rows[0]?.standby === false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Errors this pool already held for the primary: not held a second time by the query that met them. */
const held = new WeakSet<object>();

export class FailoverPool extends WaitAwarePool {
  readonly watch: PrimaryWatch;

  constructor(config: WaitAwarePoolOptions & { connectionString: string }, watch?: PrimaryWatch) {
    super(config);
    this.watch = watch ?? new PrimaryWatch(() => acceptsWrites(config.connectionString));
  }

  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool.connect's two forms (promise, callback), passed through
  override connect(callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: any) => void) => void): any {
    const connected = (super.connect() as Promise<pg.PoolClient>)
      .catch(async (error: unknown) => {
        if (!isConnectionLost(error)) throw error;
        const back = await this.watch.waitForPrimary();
        if (!back) throw markHeld(error);
        return (super.connect() as Promise<pg.PoolClient>).catch((again: unknown) => Promise.reject(markHeld(again)));
      })
      .then((client) => {
        this.watch.reached();
        return client;
      });
    if (!callback) return connected;
    connected.then(
      (client) => callback(undefined, client, (release?: unknown) => client.release(release as boolean | Error | undefined)),
      (error: Error) => callback(error, undefined, () => {}),
    );
  }

  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool.end's two forms, passed through
  override end(...args: any[]): any {
    this.watch.close();
    return (super.end as (...a: unknown[]) => unknown)(...args);
  }

  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool.query's overloads, passed through unchanged
  override query(...args: any[]): any {
    // The callback form is left as it is (nothing here uses it).
    if (args.some((arg) => typeof arg === "function")) return (super.query as (...a: unknown[]) => unknown)(...args);
    const run = () => (super.query as (...a: unknown[]) => Promise<unknown>)(...args);
    return run().catch(async (error: unknown) => {
      if (held.has(error as object) || !safeToRunAgain(args[0], error) || !(await this.watch.waitForPrimary())) throw error;
      return run();
    });
  }
}

function markHeld(error: unknown): unknown {
  if (error !== null && typeof error === "object") held.add(error);
  return error;
}
