import type { FastifyInstance, FastifyRequest } from "fastify";
import rateLimit, { type RateLimitPluginOptions } from "@fastify/rate-limit";
import type { Config } from "../config.js";
import { normalizeUserName } from "../domain/user-names.js";
import { Problem } from "../http/problem.js";

export interface AuthLimits {
  /** Counts a login attempt from this address; throws 429 when over the limit or the name is cooling down. */
  beforeLogin(request: FastifyRequest): Promise<void>;
  /** Counts a failed login for the name in the body. */
  loginFailed(request: FastifyRequest): Promise<void>;
  beforeRegister(request: FastifyRequest): Promise<void>;
}

type Limiter = ReturnType<FastifyInstance["createRateLimit"]>;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Abuse limits on the credential endpoints, per client address and per account name, on
 * @fastify/rate-limit. Its default store is this process's memory; with several replicas pass a
 * shared store (e.g. `{ store: RedisStore }` with an ioredis client, see @fastify/rate-limit).
 */
export async function registerAuthLimits(
  app: FastifyInstance,
  config: Config,
  store: Pick<RateLimitPluginOptions, "redis" | "store"> = {},
): Promise<AuthLimits> {
  await app.register(rateLimit, { global: false, ...store });
  // Both endpoints take `name` in the body, which is parsed and validated before handlers run.
  const nameKey = (prefix: string) => (request: FastifyRequest) =>
    `${prefix}:${normalizeUserName((request.body as { name: string }).name).key}`;

  const loginsByAddress = app.createRateLimit({ max: config.LOGIN_RATE_LIMIT_PER_MINUTE, timeWindow: MINUTE });
  const registrationsByAddress = app.createRateLimit({ max: config.REGISTER_RATE_LIMIT_PER_HOUR, timeWindow: HOUR });

  async function enforce(limiter: Limiter, request: FastifyRequest, what: string, increment = true): Promise<void> {
    const limit = await limiter(request, { increment });
    // Counting this request, it must stay within max; only peeking, none may be left.
    const over = !limit.isAllowed && (increment ? limit.isExceeded : limit.remaining === 0);
    if (!limit.isAllowed && over) {
      const seconds = Math.max(1, limit.ttlInSeconds);
      throw new Problem("too-many-requests", `Too many ${what}; try again in ${seconds} seconds.`, {
        headers: { "retry-after": String(seconds) },
      });
    }
  }

  // Repeated failures for one name slow that name down for at most a minute: enough to stop
  // guessing, short enough that an attacker cannot lock the owner out for long.
  const failedLoginsByName = app.createRateLimit({
    max: config.LOGIN_FAILURES_BEFORE_DELAY,
    timeWindow: MINUTE,
    keyGenerator: nameKey("login-failures"),
  });
  const registrationsByName = app.createRateLimit({
    max: config.REGISTER_ATTEMPTS_PER_NAME_PER_HOUR,
    timeWindow: HOUR,
    keyGenerator: nameKey("register"),
  });

  return {
    async beforeLogin(request) {
      await enforce(loginsByAddress, request, "login attempts from this address");
      await enforce(failedLoginsByName, request, "failed logins for this name", false);
    },
    async loginFailed(request) {
      await failedLoginsByName(request);
    },
    async beforeRegister(request) {
      await enforce(registrationsByAddress, request, "registrations from this address");
      await enforce(registrationsByName, request, "registrations for this name");
    },
  };
}
