import type { FastifyBaseLogger } from "fastify";
import type { FastifyRateLimitStoreCtor } from "@fastify/rate-limit";
import LocalStore from "@fastify/rate-limit/store/LocalStore.js";
import RedisStore from "@fastify/rate-limit/store/RedisStore.js";
import { Redis } from "ioredis";
import type { RateLimitStoreEvents } from "./service-metrics.js";

type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void;

/** What @fastify/rate-limit asks of a store (its own stores implement `read` too). */
export interface RateLimitStore {
  incr(key: string, callback: Callback, timeWindow: number, max: number): void;
  read(key: string, callback: Callback, timeWindow: number, max: number): void;
  child(params: LimiterParams): RateLimitStore;
}

interface LimiterParams {
  continueExceeding?: boolean;
  exponentialBackoff?: boolean;
}

export interface SharedRateLimitStore {
  /** For @fastify/rate-limit's options (registerAuthLimits' store argument). */
  options: { store: FastifyRateLimitStoreCtor };
  close(): Promise<void>;
}

const KEY_PREFIX = "order-service:rate-limit:";
/** A Redis that does not answer within this fails the check, which is then counted locally. */
const COMMAND_TIMEOUT_MS = 500;
const CONNECT_WAIT_MS = 2_000;

/**
 * Rate-limit counters in Redis (REDIS_URL), shared by every process and replica, on
 * @fastify/rate-limit's own Redis store.
 *
 * When Redis does not answer, limits fail open to this process's memory: requests are served
 * and still limited, per process (N replicas allow N times the limit) until Redis is back. The
 * switch is logged once each way and shown by rate_limit_store_up and
 * rate_limit_store_errors_total. Commands are never queued while disconnected, and time out
 * after 500 ms, so a missing Redis costs a request no more than that.
 */
export async function createSharedRateLimitStore(
  url: string,
  options: { log: FastifyBaseLogger; events: RateLimitStoreEvents },
): Promise<SharedRateLimitStore> {
  const { log, events } = options;
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_WAIT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    connectionName: "order-service rate limits",
  });
  let up: boolean | undefined;
  let closing = false;
  const setUp = (now: boolean, err?: unknown) => {
    if (up === now || closing) return;
    up = now;
    events.up(now);
    if (now) log.info({ store: "redis" }, "rate-limit store connected: limits are shared by every replica");
    else log.warn({ store: "redis", err }, "rate-limit store unreachable: limits are counted per process until it answers");
  };
  redis.on("ready", () => setUp(true));
  redis.on("error", (err) => setUp(false, err));
  redis.on("close", () => setUp(false));

  const ready = new Promise<void>((resolve) => {
    redis.once("ready", resolve);
    setTimeout(resolve, CONNECT_WAIT_MS).unref();
  });
  await ready;
  if (redis.status !== "ready") setUp(false);

  const failed = (err: Error) => {
    events.failed();
    setUp(false, err);
  };
  const answered = () => {
    if (!up) setUp(true); // after a timeout on a connection that stayed open
  };
  let limiters = 0;

  /** One limiter's counters: in Redis, or in memory while Redis fails. */
  class FallbackStore implements RateLimitStore {
    private readonly shared: RateLimitStore;
    private readonly local: RateLimitStore;

    constructor(shared: RateLimitStore, local: RateLimitStore) {
      this.shared = shared;
      this.local = local;
    }

    incr(key: string, callback: Callback, timeWindow: number, max: number) {
      this.shared.incr(key, this.orLocally("incr", key, callback, timeWindow, max), timeWindow, max);
    }

    read(key: string, callback: Callback, timeWindow: number, max: number) {
      this.shared.read(key, this.orLocally("read", key, callback, timeWindow, max), timeWindow, max);
    }

    /** Redis's answer when it gives one; else the failure is noted and the memory store answers. */
    private orLocally(operation: "incr" | "read", key: string, callback: Callback, timeWindow: number, max: number): Callback {
      return (err, result) => {
        if (!err) {
          answered();
          callback(null, result);
          return;
        }
        failed(err);
        this.local[operation](key, callback, timeWindow, max);
      };
    }

    /**
     * Each limiter gets keys of its own, numbered in the order the limiters are created (the
     * same in every process running the same code); @fastify/rate-limit would give all limiters
     * made by createRateLimit one prefix, mixing e.g. login and registration counts per address.
     */
    child(params: LimiterParams): RateLimitStore {
      return FallbackStore.create(params, `${KEY_PREFIX}${++limiters}:`);
    }

    static create(params: LimiterParams, prefix: string): FallbackStore {
      const continueExceeding = params.continueExceeding ?? false;
      const exponentialBackoff = params.exponentialBackoff ?? false;
      return new FallbackStore(new RedisStore(continueExceeding, exponentialBackoff, redis, prefix), new LocalStore(continueExceeding, exponentialBackoff));
    }
  }

  const Store = function (this: unknown, params: LimiterParams) {
    return FallbackStore.create(params, `${KEY_PREFIX}0:`);
  } as unknown as FastifyRateLimitStoreCtor;

  return {
    options: { store: Store },
    async close() {
      closing = true;
      redis.disconnect();
    },
  };
}
