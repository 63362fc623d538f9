import type { FastifyInstance, FastifyRequest } from "fastify";
import rateLimit, { type CreateRateLimitOptions, type RateLimitPluginOptions } from "@fastify/rate-limit";
import type { Config } from "../config.js";
import { normalizeName } from "../domain/names.js";
import { tooManyRequests } from "../errors/app-error.js";
import type { AuthLimits } from "../http/auth-limits.js";


type Limiter = ReturnType<FastifyInstance["createRateLimit"]>;
type Setting = "LOGIN_RATE_LIMIT_PER_MINUTE" | "REGISTER_RATE_LIMIT_PER_HOUR" | "LOGIN_FAILURES_BEFORE_DELAY" | "REGISTER_ATTEMPTS_PER_NAME_PER_HOUR";
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Abuse limits on the credential endpoints, on @fastify/rate-limit. Following OWASP's
 * Authentication Cheat Sheet, failed logins never lock an account: they slow down the pair
 * (name, client address) that made them, so a stranger guessing a name makes only themself wait,
 * while the owner logs in from their own address. A budget per client address bounds how many
 * names one source can try. See README, "Login throttling".
 *
 * `store`: the plugin's default is this process's memory; with several replicas pass a shared
 * store (e.g. `{ redis }` with an ioredis client). Every limiter is made by `limiter()` below.
 */
export async function registerAuthLimits(
  app: FastifyInstance,
  config: Config,
  store: Pick<RateLimitPluginOptions, "redis" | "store"> = {},
): Promise<AuthLimits> {
  await app.register(rateLimit, { global: false, ...store });
  const limiter = (options: CreateRateLimitOptions): Limiter => app.createRateLimit(options);

  // Both endpoints take `name` in the body, which is parsed and validated before handlers run.
  const nameOf = (request: FastifyRequest) => normalizeName((request.body as { name: string }).name).key;

  const loginsByAddress = limiter({ max: config.LOGIN_RATE_LIMIT_PER_MINUTE, timeWindow: MINUTE });
  const failedLoginsByNameAndAddress = limiter({
    max: config.LOGIN_FAILURES_BEFORE_DELAY,
    timeWindow: MINUTE,
    // JSON keeps the two parts apart whatever the name contains.
    keyGenerator: (request) => `login-failures:${JSON.stringify([request.ip, nameOf(request)])}`,
  });
  const registrationsByAddress = limiter({ max: config.REGISTER_RATE_LIMIT_PER_HOUR, timeWindow: HOUR });
  const registrationsByName = limiter({
    max: config.REGISTER_ATTEMPTS_PER_NAME_PER_HOUR,
    timeWindow: HOUR,
    keyGenerator: (request) => `register:${nameOf(request)}`,
  });

  // Outside production a 429 names the setting that raises the limit: a developer's or a test
  // job's traffic is the likely cause there, not an attack.
  const hint = (setting: Setting) => (config.NODE_ENV === "production" ? "" : ` Raise ${setting} (now ${config[setting]}) to allow more.`);

  async function enforce(limit: Limiter, request: FastifyRequest, what: string, setting: Setting, increment = true): Promise<void> {
    const state = await limit(request, { increment });
    // Counting this request, it must stay within max; only peeking, none may be left.
    const over = !state.isAllowed && (increment ? state.isExceeded : state.remaining === 0);
    if (over) {
      const seconds = Math.max(1, state.ttlInSeconds);
      throw tooManyRequests(`Too many ${what}; try again in ${seconds} seconds.${hint(setting)}`, seconds);
    }
  }

  return {
    async beforeLogin(request) {
      await enforce(loginsByAddress, request, "login attempts from this address", "LOGIN_RATE_LIMIT_PER_MINUTE");
      await enforce(failedLoginsByNameAndAddress, request, "failed logins for this name from this address", "LOGIN_FAILURES_BEFORE_DELAY", false);
    },
    async loginFailed(request) {
      await failedLoginsByNameAndAddress(request);
    },
    async beforeRegister(request) {
      await enforce(registrationsByAddress, request, "registrations from this address", "REGISTER_RATE_LIMIT_PER_HOUR");
      await enforce(registrationsByName, request, "registrations for this name", "REGISTER_ATTEMPTS_PER_NAME_PER_HOUR");
    },
  };
}
