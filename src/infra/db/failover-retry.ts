import { setTimeout as sleep } from "node:timers/promises";
import { serviceUnavailable } from "../../errors/app-error.js";
import { isConnectionLost } from "./errors.js";

// What is retried inside the service when a connection is lost (a failover, a switchover, a
// restart; see docs/guides/high-availability.md, "Retry rules"):
// - a read, or a transaction that failed before its COMMIT was sent: nothing was written, so it
//   runs again on a new connection (which the pool opens to the new primary);
// - a transaction whose COMMIT was sent and then lost: the outcome is unknown. It is run again
//   only if `verify` shows that it did not commit (the order's id looked up); when that cannot be
//   told, the answer is a 503 saying so, and the client's Idempotency-Key decides on its retry.
// Only quick failures are retried (a cut connection fails at once): a database that does not
// answer at all already took the request's time, and a stall (lock or statement timeout) is never
// retried, since running it again only adds load.

/**
 * Attempts in all, and how long after the first one began a retry may still start: long enough to
 * ride out a planned switchover (about 3 s), short enough that a longer outage answers 503 soon.
 */
const ATTEMPTS = 5;
const RETRY_WITHIN_MS = 3_000;
const BACKOFF_MS = [100, 300, 600, 1_000];

/**
 * How long after the database was lost requests are held for a new primary before they answer
 * 503: a planned switchover (about 3 s with Patroni and HAProxy) with room to spare. Past it, a
 * longer outage (a lost node: about 10 s) answers 503 at once until a primary is back.
 */
export const HOLD_FOR_PRIMARY_MS = 6_000;
const PROBE_INTERVAL_MS = 200;

/** How often, once a hold has run out, a probe asks in the background whether the primary is back. */
const RECHECK_INTERVAL_MS = 1_000;

/**
 * Whether the primary is back after a lost connection, asked by every request that failed
 * safely: one probe at a time, shared by all of them (a fresh connection asking whether the
 * server takes writes), so a failover is not met with a connection storm. Once a hold has run
 * out, requests answer at once while a background probe keeps asking, so the end of the outage
 * is noticed even when no request reaches the database, and the next outage is held again.
 */
export class PrimaryWatch {
  /** When the primary was first found away, until a probe or a new connection finds it again. */
  private awaySince: number | undefined;
  private probing: Promise<boolean> | undefined;
  private recovering: NodeJS.Timeout | undefined;
  private closed = false;

  private readonly isPrimary: () => Promise<boolean>;
  private readonly holdMs: number;
  private readonly intervalMs: number;
  private readonly recheckMs: number;

  constructor(isPrimary: () => Promise<boolean>, holdMs = HOLD_FOR_PRIMARY_MS, intervalMs = PROBE_INTERVAL_MS, recheckMs = RECHECK_INTERVAL_MS) {
    this.isPrimary = isPrimary;
    this.holdMs = holdMs;
    this.intervalMs = intervalMs;
    this.recheckMs = recheckMs;
  }

  /**
   * Resolves true as soon as the primary takes writes again; false once it has been away longer
   * than the hold (at once when it already has been).
   */
  async waitForPrimary(): Promise<boolean> {
    this.awaySince ??= Date.now();
    const deadline = this.awaySince + this.holdMs;
    for (;;) {
      if (await this.probe()) {
        this.reached();
        return true;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        this.watchForRecovery();
        return false;
      }
      await sleep(Math.min(this.intervalMs, left));
    }
  }

  /** A connection was opened: whatever was away is reachable again, and a later loss is a new outage with a hold of its own. */
  reached(): void {
    this.awaySince = undefined;
    clearTimeout(this.recovering);
    this.recovering = undefined;
  }

  /** Stops the background probe (the pool is closing). */
  close(): void {
    this.closed = true;
    clearTimeout(this.recovering);
  }

  private watchForRecovery(): void {
    if (this.recovering !== undefined || this.closed) return;
    this.recovering = setTimeout(() => {
      void this.probe().then((up) => {
        this.recovering = undefined;
        if (up) this.reached();
        else this.watchForRecovery();
      });
    }, this.recheckMs);
    this.recovering.unref();
  }

  private probe(): Promise<boolean> {
    this.probing ??= this.isPrimary()
      .catch(() => false)
      .finally(() => {
        this.probing = undefined;
      });
    return this.probing;
  }
}

/** Runs `work`, again when it fails quickly with a lost connection (a read, or work that wrote nothing). */
export async function retryConnectionLoss<T>(work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!retryable(error, attempt, started)) throw error;
      await sleep(BACKOFF_MS[attempt - 1] ?? 1_000);
    }
  }
}

const retryable = (error: unknown, attempt: number, started: number) => attempt < ATTEMPTS && Date.now() - started < RETRY_WITHIN_MS && isConnectionLost(error);

export interface FailoverSafeTransaction<T> {
  /** Runs the transaction: `body` inside it, then its COMMIT (e.g. `(body) => prisma.$transaction(body)`). */
  run(body: <R>(inner: () => Promise<R>) => Promise<R>): Promise<T>;
  /**
   * After a lost COMMIT: whether the transaction that produced `result` committed (looked up on a
   * new connection). Throws when that cannot be told now.
   */
  verify(result: T): Promise<boolean>;
  /** The error to answer when `verify` cannot tell (default: a 503 saying the outcome is not known yet). */
  outcomeUnknown?(result: T, cause: unknown): Error | undefined;
}

/**
 * Runs a transaction, again after a lost connection before its COMMIT, and after a lost COMMIT
 * only once `verify` says it did not commit (then it is as if it never ran); a COMMIT it did make
 * is answered as made.
 */
export async function runFailoverSafe<T>(transaction: FailoverSafeTransaction<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    let result: { value: T } | undefined;
    try {
      return await transaction.run(async (inner) => {
        result = undefined;
        const value = await inner();
        result = { value: value as unknown as T };
        return value;
      });
    } catch (error) {
      if (result !== undefined && isConnectionLost(error)) {
        const committed = await retryConnectionLoss(() => transaction.verify(result!.value)).catch((cause: unknown) => {
          const unknown = transaction.outcomeUnknown?.(result!.value, new AggregateError([error, cause]));
          if (unknown) throw unknown;
          throw serviceUnavailable(
            "The database was lost while committing; whether this request took effect is not known yet. Retry it with the same Idempotency-Key, or look it up.",
            {
              cause: new AggregateError([error, cause]),
            },
          );
        });
        if (committed) return result.value;
      } else if (!retryable(error, attempt, started)) {
        throw error;
      }
      if (attempt >= ATTEMPTS) throw error;
      await sleep(BACKOFF_MS[attempt - 1] ?? 1_000);
    }
  }
}
