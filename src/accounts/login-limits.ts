import rateLimit, { type CreateRateLimitOptions } from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { normalizeName } from "../shared/names.js";
import { tooManyRequests } from "../errors/app-error.js";
import type { AuthLimits } from "./auth-limits.js";
import { createSharedRateLimitStore } from "../platform/rate-limit-store.js";

declare module "fastify" {
  interface FastifyInstance {
    authLimits: AuthLimits;
  }
}

type Limiter = ReturnType<FastifyInstance["createRateLimit"]>;
type Setting = "LOGIN_RATE_LIMIT_PER_MINUTE" | "REGISTER_RATE_LIMIT_PER_HOUR" | "LOGIN_FAILURES_BEFORE_DELAY" | "REGISTER_ATTEMPTS_PER_NAME_PER_HOUR";
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Abuse limits on the credential endpoints, on @fastify/rate-limit. Following OWASP's
 * Authentication Cheat Sheet, failed logins never lock an account: they slow down the pair
 * (name, client address) that made them, so a stranger guessing a name makes only themself wait,
 * while the owner logs in from their own address. A budget per client address bounds how many
 * names one source can try. See docs/guides/authentication.md, "Login throttling".
 *
 * Counters live in this process's memory, or with REDIS_URL in Redis, shared by every process and
 * replica (./rate-limit-store.ts; the connection is closed with the app). Every limiter is made
 * by `limiter()` below.
 */
export const rateLimitsPlugin = fp(
  async (app: FastifyInstance) => {
    app.decorate("authLimits", await registerAuthLimits(app));
  },
  { name: "rate-limits", dependencies: ["config", "metrics"], fastify: "5.x" },
);

async function registerAuthLimits(app: FastifyInstance): Promise<AuthLimits> {
  const { config } = app;
  const store = config.REDIS_URL
    ? await createSharedRateLimitStore(config.REDIS_URL, { log: app.log.child({ component: "rate-limits" }), events: app.serviceMetrics.rateLimitStore })
    : undefined;
  if (store) app.addHook("onClose", () => store.close());
  else if (config.WORKERS > 1 || config.NODE_ENV === "production") {
    app.log.warn("REDIS_URL is not set: rate limits are counted per process, so N processes or replicas allow N times each limit");
  }
  await app.register(rateLimit, { global: false, ...store?.options });
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
