import pg from "pg";

/** What a wait for a pool connection that ran out of time says about the database. */
export type PoolWaitVerdict = "overloaded" | "database-unavailable";

/**
 * How recent the server's last answer must be for a wait that ran out to count as overload: a
 * burst gets answers every few milliseconds, a database that died during the wait none since.
 */
const RECENT_ANSWER_MS = 1_000;

/** pg-pool's error when a checkout waited `connectionTimeoutMillis` in its queue. */
const QUEUE_TIMEOUT_MESSAGE = "timeout exceeded when trying to connect";

/**
 * Every connection of the pool was busy for the whole wait while the database kept answering:
 * the service is saturated, the database is fine (src/infra/db/errors.ts: `overloaded`).
 */
export class PoolSaturated extends Error {
  readonly code = "POOL_SATURATED";
  readonly waitedMs: number;

  constructor(waitedMs: number) {
    super(`Waited ${waitedMs} ms for a database connection: every connection was busy while the database kept answering`);
    this.waitedMs = waitedMs;
    this.name = "PoolSaturated";
  }
}

export interface WaitAwarePoolOptions extends pg.PoolConfig {
  /** Told of every checkout that ran out of time, with what it means. */
  onWaitTimeout?: (verdict: PoolWaitVerdict) => void;
}

/** pg.Client's own state: `readyForQuery` is false while a statement awaits the server's answer. */
interface ClientState {
  readyForQuery: boolean;
  connection: NodeJS.EventEmitter;
}

/**
 * A pg.Pool that tells a busy pool from a silent database. A checkout that waited its whole
 * `connectionTimeoutMillis` for one of `max` busy connections fails with PoolSaturated when the
 * server answered some connection of the pool in the last RECENT_ANSWER_MS of the wait, or when no
 * connection was waiting for it (the connections were all busy in the service): the database
 * works, there is more work than connections. Otherwise (statements waited for the server and it
 * answered none lately: frozen, gone, or stalled on a lock) it fails with pg-pool's own error,
 * classified as unavailable.
 */
export class WaitAwarePool extends pg.Pool {
  /** performance.now() when a connection of this pool last got a ReadyForQuery from the server. */
  private lastAnswerAt = Number.NEGATIVE_INFINITY;
  private readonly connected = new Set<ClientState>();
  private readonly onWaitTimeout?: (verdict: PoolWaitVerdict) => void;

  constructor({ onWaitTimeout, ...config }: WaitAwarePoolOptions) {
    super(config);
    this.onWaitTimeout = onWaitTimeout;
    this.on("connect", (client) => {
      const state = client as unknown as ClientState;
      this.connected.add(state);
      // Sent by the server after every statement, failed or not: proof that it is answering.
      state.connection.on("readyForQuery", () => {
        this.lastAnswerAt = performance.now();
      });
    });
    this.on("remove", (client) => this.connected.delete(client as unknown as ClientState));
  }

  /** True when some connection is being opened or has a statement the server has not answered yet. */
  private awaitingServer(): boolean {
    if (this.totalCount > this.connected.size) return true;
    for (const client of this.connected) if (!client.readyForQuery) return true;
    return false;
  }

  // biome-ignore lint/suspicious/noExplicitAny: pg.Pool.connect's overloads (promise and callback), passed through
  override connect(callback?: any): any {
    const started = performance.now();
    if (callback) {
      return super.connect((error: Error | undefined, client?: pg.PoolClient, done?: (release?: unknown) => void) =>
        callback(error ? this.explain(error, started) : error, client, done),
      );
    }
    return super.connect().catch((error: Error) => {
      throw this.explain(error, started);
    });
  }

  private explain(error: Error, started: number): Error {
    if (error.message !== QUEUE_TIMEOUT_MESSAGE) return error;
    const now = performance.now();
    const answering = this.lastAnswerAt >= Math.max(started, now - RECENT_ANSWER_MS) || !this.awaitingServer();
    this.onWaitTimeout?.(answering ? "overloaded" : "database-unavailable");
    return answering ? new PoolSaturated(Math.round(now - started)) : error;
  }
}
