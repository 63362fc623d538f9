import pg from "pg";

/**
 * One PostgreSQL connection per process through which replicas coordinate, with no other
 * component: it LISTENs for change notifications (so caches drop what another replica changed)
 * and tries to hold a session-level advisory lock (whoever holds it runs the periodic jobs; the
 * lock goes with the connection when that process dies). The connection is checked every
 * `checkIntervalMs`, and re-opened when lost.
 */
export interface Coordination {
  /** True while this process holds the jobs lock. */
  isLeader(): boolean;
  /** True while the notification connection is open. */
  isConnected(): boolean;
  /**
   * `listener` runs on every notification on `channel`, and whenever the connection is
   * (re)opened, since notifications sent while it was down are lost.
   */
  onChange(channel: string, listener: () => void): void;
  close(): Promise<void>;
}

export interface CoordinationOptions {
  channels: string[];
  /** The advisory lock key that elects the process running periodic jobs. */
  leaderLockKey: number;
  checkIntervalMs?: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  onStateChange?: (state: { connected: boolean; leader: boolean }) => void;
}

const DEFAULT_CHECK_INTERVAL_MS = 5_000;

export function startCoordination(url: string, options: CoordinationOptions): Coordination {
  const listeners = new Map<string, Array<() => void>>();
  let client: pg.Client | undefined;
  let connected = false;
  let leader = false;
  let closed = false;
  let busy = false;
  /** Whether the loss (or the failure to connect) was logged: once until the connection is back. */
  let lossLogged = false;

  const notify = (channel: string) => {
    for (const listener of listeners.get(channel) ?? []) listener();
  };
  const report = () => options.onStateChange?.({ connected, leader });

  function lost(current: pg.Client, err?: Error) {
    if (client !== current) return;
    client = undefined;
    const wasLeader = leader;
    connected = false;
    leader = false;
    report();
    current.end().catch(() => {});
    if (closed || lossLogged) return;
    lossLogged = true;
    options.log.warn({ err, wasLeader }, "no coordination connection: product counts fall back to their 5 s reuse and periodic jobs wait; retrying");
  }

  async function connect(): Promise<void> {
    const fresh = new pg.Client({ connectionString: url, application_name: "order-service coordination", keepAlive: true, query_timeout: 5_000 });
    fresh.on("error", (err) => lost(fresh, err));
    fresh.on("end", () => lost(fresh));
    fresh.on("notification", (message) => notify(message.channel));
    client = fresh;
    try {
      await fresh.connect();
      for (const channel of options.channels) await fresh.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (err) {
      lost(fresh, err as Error);
      return;
    }
    if (closed) return void fresh.end().catch(() => {});
    connected = true;
    lossLogged = false;
    options.log.info({ channels: options.channels }, "coordination connection open");
    for (const channel of options.channels) notify(channel);
    report();
  }

  /** Reconnects, or checks the connection (and takes the lock when it is free). */
  async function check(): Promise<void> {
    if (busy || closed) return;
    busy = true;
    try {
      if (!client) await connect();
      const current = client;
      if (!current || !connected) return;
      if (leader) {
        await current.query("SELECT 1");
      } else {
        const { rows } = await current.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [options.leaderLockKey]);
        if (rows[0]?.locked && client === current) {
          leader = true;
          options.log.info({}, "this process now runs the periodic jobs");
          report();
        }
      }
    } catch (err) {
      if (client) lost(client, err as Error);
    } finally {
      busy = false;
    }
  }

  void check();
  const timer = setInterval(() => void check(), options.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS).unref();

  return {
    isLeader: () => leader,
    isConnected: () => connected,
    onChange(channel, listener) {
      listeners.set(channel, [...(listeners.get(channel) ?? []), listener]);
    },
    async close() {
      closed = true;
      clearInterval(timer);
      const current = client;
      client = undefined;
      connected = false;
      leader = false;
      await current?.end().catch(() => {});
    },
  };
}
