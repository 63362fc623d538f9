import { envSchema } from "env-schema";
import type { FromSchema } from "json-schema-to-ts";

type AbuseLimit = "LOGIN_RATE_LIMIT_PER_MINUTE" | "REGISTER_RATE_LIMIT_PER_HOUR" | "LOGIN_FAILURES_BEFORE_DELAY" | "REGISTER_ATTEMPTS_PER_NAME_PER_HOUR";

/**
 * Production keeps strict abuse limits. Development and test serve one developer or a client's
 * contract-test job, which registers and logs in hundreds of users from one address in seconds.
 */
export const ABUSE_LIMIT_DEFAULTS: Record<"production" | "development", Record<AbuseLimit, number>> = {
  production: {
    LOGIN_RATE_LIMIT_PER_MINUTE: 30,
    REGISTER_RATE_LIMIT_PER_HOUR: 20,
    LOGIN_FAILURES_BEFORE_DELAY: 5,
    REGISTER_ATTEMPTS_PER_NAME_PER_HOUR: 10,
  },
  development: {
    LOGIN_RATE_LIMIT_PER_MINUTE: 5_000,
    REGISTER_RATE_LIMIT_PER_HOUR: 10_000,
    LOGIN_FAILURES_BEFORE_DELAY: 100,
    REGISTER_ATTEMPTS_PER_NAME_PER_HOUR: 100,
  },
};

const DEVELOPMENT_JWT_SECRET = "development-only-secret-never-used-in-production";
/** The development admin's password (the reference's); never accepted in production. */
export const DEVELOPMENT_ADMIN_PASSWORD = "12345";
/** Where a developer's own requests come from; production trusts no Host unless told. */
const DEVELOPMENT_ALLOWED_HOSTS = "localhost,127.0.0.1,[::1]";

/**
 * The environment the service reads: names, types, limits and defaults. `Config` is derived from
 * it (json-schema-to-ts), so the type cannot drift from what env-schema validates.
 */
const schema = {
  type: "object",
  // Other variables of the environment are dropped (env-schema's Ajv removes them), not refused.
  additionalProperties: false,
  properties: {
    NODE_ENV: { type: "string", enum: ["development", "test", "production"], default: "development" },
    HOST: { type: "string", default: "127.0.0.1" },
    PORT: { type: "integer", minimum: 0, maximum: 65535, default: 8000 },
    LOG_LEVEL: { type: "string", enum: ["fatal", "error", "warn", "info", "debug", "trace", "silent"], default: "info" },
    DATABASE_URL: { type: "string", pattern: "^postgres(ql)?://", description: "Unset: the embedded PostgreSQL (PGlite) persisted under DATA_DIR." },
    DATA_DIR: { type: "string", default: ".data" },
    DB_POOL_MAX: { type: "integer", minimum: 1, maximum: 200, default: 10 },
    DB_POOL_WAIT_MS: {
      type: "integer",
      minimum: 100,
      maximum: 60_000,
      default: 10_000,
      description:
        "How long a request waits for one of the DB_POOL_MAX connections while all are busy before it is answered 503 `overloaded`; keep it below your clients' timeouts. DATABASE_URL only (the embedded database queues for up to 60 s).",
    },
    JWT_SECRET: { type: "string", minLength: 32 },
    ACCESS_TOKEN_TTL_SECONDS: { type: "integer", minimum: 1, default: 50 * 60 },
    REFRESH_TOKEN_TTL_SECONDS: { type: "integer", minimum: 1, default: 24 * 60 * 60 },
    ADMIN_PASSWORD: {
      type: "string",
      minLength: 1,
      description: "Password of the default `admin` account; in production the account exists only when this is set.",
    },
    BODY_LIMIT_BYTES: { type: "integer", minimum: 1024, default: 64 * 1024 },
    TRUST_PROXY: { type: "boolean", default: false },
    METRICS_TOKEN: { type: "string", minLength: 16, description: "When set, /metrics needs `Authorization: Bearer <METRICS_TOKEN>`." },
    CORS_ORIGINS: { type: "string", default: "", description: "Comma-separated origins allowed by CORS; empty means CORS stays off." },
    PUBLIC_URL: {
      type: "string",
      pattern: "^https?://[^/?#]+(/[^?#]*)?$",
      description: "The service's public base URL (e.g. https://shop.example/orders); absolute links start with it.",
    },
    ALLOWED_HOSTS: {
      type: "string",
      description:
        "Comma-separated Host values trusted to build absolute links when PUBLIC_URL is unset (`name` matches any port, `name:port` one port, `*` any host). Others get relative links.",
    },
    WORKERS: { type: "integer", minimum: 1, maximum: 256, default: 1, description: "node:cluster workers; 1 runs the server in this process." },
    // Defaults depend on NODE_ENV: ABUSE_LIMIT_DEFAULTS.
    LOGIN_RATE_LIMIT_PER_MINUTE: { type: "integer", minimum: 1, description: "Login attempts per client address per minute." },
    REGISTER_RATE_LIMIT_PER_HOUR: { type: "integer", minimum: 1, description: "Registrations per client address per hour." },
    LOGIN_FAILURES_BEFORE_DELAY: {
      type: "integer",
      minimum: 1,
      description: "Failed logins for one name from one client address per minute before that pair waits.",
    },
    REGISTER_ATTEMPTS_PER_NAME_PER_HOUR: { type: "integer", minimum: 1, description: "Registration attempts for one name per hour." },
    // Below an order transaction's 15 s timeout (src/orders/orders-repository.ts).
    DB_STATEMENT_TIMEOUT_MS: {
      type: "integer",
      minimum: 100,
      maximum: 14_000,
      default: 5_000,
      description: "PostgreSQL statement_timeout of every connection.",
    },
    DB_LOCK_TIMEOUT_MS: { type: "integer", minimum: 100, maximum: 14_000, default: 3_000, description: "PostgreSQL lock_timeout of every connection." },
    DB_PREPARED_STATEMENTS: {
      type: "boolean",
      default: true,
      description: "Prepare the catalogue reads under names on each connection; false behind a pooler that cannot keep named statements.",
    },
    DATABASE_READ_URL: {
      type: "string",
      pattern: "^postgres(ql)?://",
      description:
        "A read replica (or a pooler's or HAProxy's replica endpoint) for the catalogue's reads; writes, orders, authentication and transactions stay on DATABASE_URL. Unset: every read on DATABASE_URL.",
    },
    DB_READ_MAX_LAG_MS: {
      type: "integer",
      minimum: 0,
      maximum: 600_000,
      default: 1_000,
      description: "Replica lag beyond which the catalogue's reads go to the primary until the replica catches up.",
    },
    DB_READ_YOUR_WRITES_MS: {
      type: "integer",
      minimum: 0,
      maximum: 600_000,
      default: 5_000,
      description: "After a client's write, how long that client's reads go to the primary (so it reads its own write).",
    },
    REDIS_URL: {
      type: "string",
      pattern: "^rediss?://",
      description: "Redis keeping the rate-limit counters shared by every process; unset: each process counts its own.",
    },
    EVENT_RETENTION_DAYS: {
      type: "number",
      exclusiveMinimum: 0,
      maximum: 3650,
      default: 7,
      description: "Events (GET /api/event/) and their webhook deliveries older than this are purged.",
    },
    WEBHOOK_RETRY_SCHEDULE_MS: {
      type: "string",
      pattern: "^\\d{1,10}(,\\d{1,10})*$",
      default: "5000,300000,1800000,7200000,18000000,36000000,36000000",
      description:
        "Milliseconds to wait after each failed attempt before the next (jittered by ±20 %); one attempt more than delays, then the delivery is failed. Default: the Standard Webhooks schedule.",
    },
    WEBHOOK_TIMEOUT_MS: {
      type: "integer",
      minimum: 100,
      maximum: 120_000,
      default: 15_000,
      description: "How long a webhook endpoint has to answer an attempt.",
    },
    WEBHOOK_DISABLE_AFTER_MS: {
      type: "integer",
      minimum: 1_000,
      default: 5 * 24 * 60 * 60 * 1000,
      description: "An endpoint whose every attempt has failed for this long is disabled (default 5 days).",
    },
    WEBHOOK_SECRET_OVERLAP_MS: {
      type: "integer",
      minimum: 0,
      default: 24 * 60 * 60 * 1000,
      description: "After a secret rotation, deliveries carry a signature with the old secret too for this long.",
    },
    WEBHOOK_POLL_MS: { type: "integer", minimum: 10, maximum: 60_000, default: 200, description: "How often each process looks for due deliveries when idle." },
    WEBHOOK_CONCURRENCY: {
      type: "integer",
      minimum: 1,
      maximum: 1_000,
      default: 16,
      description: "Claimed deliveries each process sends at once; it takes up to four times as many of its own at insert.",
    },
    WEBHOOK_REQUIRE_HTTPS: { type: "boolean", description: "Endpoints must be https:// URLs. Default: true in production, false otherwise." },
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: {
      type: "boolean",
      description: "Endpoints may resolve to loopback, private, link-local or other non-public addresses. Default: false in production, true otherwise.",
    },
    COORDINATION_DATABASE_URL: {
      type: "string",
      pattern: "^postgres(ql)?://",
      description:
        "PostgreSQL for each process's coordination connection (LISTEN, a session advisory lock), when DATABASE_URL goes through a transaction-mode pooler; unset: DATABASE_URL.",
    },
  },
} as const;

/** Every variable the service reads (docs/reference/configuration.md lists each). */
export const CONFIG_VARIABLES = Object.keys(schema.properties);

/** What env-schema returns: every variable with a default is present, the others may be missing. */
type Environment = FromSchema<typeof schema>;

/** The validated configuration: the environment, with the NODE_ENV-dependent defaults filled in by loadConfig. */
type EnvironmentDependent = AbuseLimit | "JWT_SECRET" | "ALLOWED_HOSTS" | "WEBHOOK_REQUIRE_HTTPS" | "WEBHOOK_ALLOW_PRIVATE_NETWORKS";
export type Config = Omit<Environment, EnvironmentDependent> & Required<Pick<Environment, EnvironmentDependent>>;

export class ConfigError extends Error {}

/**
 * Secrets that are published, and so known to everyone: the development default, the
 * placeholder of deploy/secret.example.yaml, and the usual stand-ins.
 */
const PUBLISHED_SECRET = new RegExp(
  [DEVELOPMENT_JWT_SECRET, "change-?me", "changeit", "replace-?me", "placeholder", "example", "your-?secret", "secret-?key"].join("|"),
  "i",
);
/** Fewer distinct characters than this, and a 32-character secret is guessable (e.g. "abababab…", "12341234…"). */
const MIN_DISTINCT_CHARACTERS = 12;

/** Why a production JWT_SECRET is unacceptable, or undefined when it is acceptable. */
export function weakSecretReason(secret: string): string | undefined {
  if (PUBLISHED_SECRET.test(secret)) return "it is a published default or placeholder";
  if (new Set(secret).size < MIN_DISTINCT_CHARACTERS) {
    return `it has fewer than ${MIN_DISTINCT_CHARACTERS} distinct characters`;
  }
  return undefined;
}

/**
 * Reads and validates the environment. Development and test get working defaults;
 * production gets none of them and refuses to start without a JWT secret.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // `VAR=` (as compose and Kubernetes write an unset optional value) means unset.
  const data = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  let config: Environment;
  try {
    config = envSchema<Environment>({ schema: structuredClone(schema), data, env: false, dotenv: false });
  } catch (error) {
    throw new ConfigError(`Invalid configuration: ${(error as Error).message}`);
  }
  const limits = { ...ABUSE_LIMIT_DEFAULTS[config.NODE_ENV === "production" ? "production" : "development"] };
  for (const name of Object.keys(limits) as AbuseLimit[]) limits[name] = config[name] ?? limits[name];
  const production = config.NODE_ENV === "production";
  const webhooks = {
    WEBHOOK_REQUIRE_HTTPS: config.WEBHOOK_REQUIRE_HTTPS ?? production,
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: config.WEBHOOK_ALLOW_PRIVATE_NETWORKS ?? !production,
  };
  if (production) {
    if (!config.JWT_SECRET) {
      throw new ConfigError(
        "Invalid configuration: JWT_SECRET is required when NODE_ENV=production (at least 32 characters); generate one with `openssl rand -base64 48`",
      );
    }
    const weakness = weakSecretReason(config.JWT_SECRET);
    if (weakness) {
      throw new ConfigError(`Invalid configuration: JWT_SECRET is refused in production because ${weakness}; generate one with \`openssl rand -base64 48\``);
    }
    if (config.ADMIN_PASSWORD === DEVELOPMENT_ADMIN_PASSWORD) {
      throw new ConfigError(
        `Invalid configuration: ADMIN_PASSWORD is the development password, refused in production; set a strong one (generate one with \`openssl rand -base64 24\`) or leave it unset`,
      );
    }
    return { ...config, ...limits, ...webhooks, JWT_SECRET: config.JWT_SECRET, ALLOWED_HOSTS: config.ALLOWED_HOSTS ?? "" };
  }
  return {
    ...config,
    ...limits,
    ...webhooks,
    ALLOWED_HOSTS: config.ALLOWED_HOSTS ?? DEVELOPMENT_ALLOWED_HOSTS,
    JWT_SECRET: config.JWT_SECRET ?? DEVELOPMENT_JWT_SECRET,
    ADMIN_PASSWORD: config.ADMIN_PASSWORD ?? DEVELOPMENT_ADMIN_PASSWORD,
  };
}
