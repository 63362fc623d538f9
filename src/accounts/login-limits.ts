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
/** The max of a limiter that only counts (the check is made here): `remaining` is then UNBOUNDED - count. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

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
  // Several processes here each count on their own; a single process (replicas aside, which it
  // cannot see) counts exactly, so it does not warn.
  else if (config.WORKERS > 1) {
    app.log.warn("REDIS_URL is not set: rate limits are counted per process, so N processes or replicas allow N times each limit");
  }
  await app.register(rateLimit, { global: false, ...store?.options });
  const limiter = (options: CreateRateLimitOptions): Limiter => app.createRateLimit(options);

  // Both endpoints take `name` in the body, which is parsed and validated before handlers run.
  const nameOf = (request: FastifyRequest) => normalizeName((request.body as { name: string }).name).key;

  const loginsByAddress = limiter({ max: config.LOGIN_RATE_LIMIT_PER_MINUTE, timeWindow: MINUTE });
  // A login for a name from an address reserves an attempt before its password is hashed, and a
  // success releases it: what stays counted are the failures and the attempts still being
  // checked, so a burst of parallel guesses gets at most LOGIN_FAILURES_BEFORE_DELAY hashes.
  // The stores only count up, so a release is counted too, and the two counts subtract.
  // JSON keeps the two parts of a key apart whatever the name contains.
  const pairKey = (kind: string) => (request: FastifyRequest) => `${kind}:${JSON.stringify([request.ip, nameOf(request)])}`;
  const loginAttemptsByNameAndAddress = limiter({ max: UNBOUNDED, timeWindow: MINUTE, keyGenerator: pairKey("login-attempts") });
  const loginReleasesByNameAndAddress = limiter({ max: UNBOUNDED, timeWindow: MINUTE, keyGenerator: pairKey("login-releases") });
  type State = Awaited<ReturnType<Limiter>>;
  // `isAllowed` is true only for an allow-list, which these limiters have not: then nothing counts.
  const counted = (state: State) => (state.isAllowed ? 0 : UNBOUNDED - state.remaining);
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
      const [attempts, releases] = await Promise.all([loginAttemptsByNameAndAddress(request), loginReleasesByNameAndAddress(request, { increment: false })]);
      if (counted(attempts) - counted(releases) > config.LOGIN_FAILURES_BEFORE_DELAY) {
        const seconds = Math.max(1, attempts.isAllowed ? 0 : attempts.ttlInSeconds);
        const what = "failed logins for this name from this address";
        throw tooManyRequests(`Too many ${what}; try again in ${seconds} seconds.${hint("LOGIN_FAILURES_BEFORE_DELAY")}`, seconds);
      }
    },
    async releaseLogin(request) {
      await loginReleasesByNameAndAddress(request);
    },
    async beforeRegister(request) {
      await enforce(registrationsByAddress, request, "registrations from this address", "REGISTER_RATE_LIMIT_PER_HOUR");
      await enforce(registrationsByName, request, "registrations for this name", "REGISTER_ATTEMPTS_PER_NAME_PER_HOUR");
    },
  };
}
