import { envSchema } from "env-schema";

export interface Config {
  NODE_ENV: "development" | "test" | "production";
  HOST: string;
  PORT: number;
  LOG_LEVEL: string;
  /** Unset: the embedded PostgreSQL (PGlite) persisted under DATA_DIR. */
  DATABASE_URL?: string;
  DATA_DIR: string;
  DB_POOL_MAX: number;
  JWT_SECRET: string;
  ACCESS_TOKEN_TTL_SECONDS: number;
  REFRESH_TOKEN_TTL_SECONDS: number;
  /** Password of the default `admin` account; in production the account exists only when this is set. */
  ADMIN_PASSWORD?: string;
  BODY_LIMIT_BYTES: number;
  TRUST_PROXY: boolean;
  /** When set, /metrics needs `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN?: string;
  /** Comma-separated origins allowed by CORS; empty means CORS stays off. */
  CORS_ORIGINS: string;
  /** node:cluster workers; 1 runs the server in this process. */
  WORKERS: number;
  /** Login attempts per client address per minute, and registrations per client address per hour. */
  LOGIN_RATE_LIMIT_PER_MINUTE: number;
  REGISTER_RATE_LIMIT_PER_HOUR: number;
  /** Failed logins for one name before that name is slowed down. */
  LOGIN_FAILURES_BEFORE_DELAY: number;
  /** Registration attempts for one name per hour. */
  REGISTER_ATTEMPTS_PER_NAME_PER_HOUR: number;
  /** Redis keeping the rate-limit counters shared by every process; unset: each process counts its own. */
  REDIS_URL?: string;
  /**
   * PostgreSQL for each process's coordination connection (LISTEN, a session advisory lock),
   * when DATABASE_URL goes through a transaction-mode pooler; unset: DATABASE_URL.
   */
  COORDINATION_DATABASE_URL?: string;
}

const DEVELOPMENT_JWT_SECRET = "development-only-secret-never-used-in-production";
const DEVELOPMENT_ADMIN_PASSWORD = "12345";

const schema = {
  type: "object",
  properties: {
    NODE_ENV: { type: "string", enum: ["development", "test", "production"], default: "development" },
    HOST: { type: "string", default: "127.0.0.1" },
    PORT: { type: "integer", minimum: 0, maximum: 65535, default: 8000 },
    LOG_LEVEL: { type: "string", enum: ["fatal", "error", "warn", "info", "debug", "trace", "silent"], default: "info" },
    DATABASE_URL: { type: "string", pattern: "^postgres(ql)?://" },
    DATA_DIR: { type: "string", default: ".data" },
    DB_POOL_MAX: { type: "integer", minimum: 1, maximum: 200, default: 10 },
    JWT_SECRET: { type: "string", minLength: 32 },
    ACCESS_TOKEN_TTL_SECONDS: { type: "integer", minimum: 1, default: 50 * 60 },
    REFRESH_TOKEN_TTL_SECONDS: { type: "integer", minimum: 1, default: 24 * 60 * 60 },
    ADMIN_PASSWORD: { type: "string", minLength: 1 },
    BODY_LIMIT_BYTES: { type: "integer", minimum: 1024, default: 64 * 1024 },
    TRUST_PROXY: { type: "boolean", default: false },
    METRICS_TOKEN: { type: "string", minLength: 16 },
    CORS_ORIGINS: { type: "string", default: "" },
    WORKERS: { type: "integer", minimum: 1, maximum: 256, default: 1 },
    LOGIN_RATE_LIMIT_PER_MINUTE: { type: "integer", minimum: 1, default: 30 },
    REGISTER_RATE_LIMIT_PER_HOUR: { type: "integer", minimum: 1, default: 20 },
    LOGIN_FAILURES_BEFORE_DELAY: { type: "integer", minimum: 1, default: 5 },
    REGISTER_ATTEMPTS_PER_NAME_PER_HOUR: { type: "integer", minimum: 1, default: 10 },
    REDIS_URL: { type: "string", pattern: "^rediss?://" },
    COORDINATION_DATABASE_URL: { type: "string", pattern: "^postgres(ql)?://" },
  },
};

export class ConfigError extends Error {}

/**
 * Reads and validates the environment. Development and test get working defaults;
 * production gets none of them and refuses to start without a JWT secret.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // `VAR=` (as compose and Kubernetes write an unset optional value) means unset.
  const data = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  let config: Config;
  try {
    config = envSchema<Config>({ schema: structuredClone(schema), data, env: false, dotenv: false });
  } catch (error) {
    throw new ConfigError(`Invalid configuration: ${(error as Error).message}`);
  }
  if (config.NODE_ENV === "production") {
    if (!config.JWT_SECRET) {
      throw new ConfigError("Invalid configuration: JWT_SECRET is required when NODE_ENV=production (at least 32 characters)");
    }
    return config;
  }
  return {
    ...config,
    JWT_SECRET: config.JWT_SECRET ?? DEVELOPMENT_JWT_SECRET,
    ADMIN_PASSWORD: config.ADMIN_PASSWORD ?? DEVELOPMENT_ADMIN_PASSWORD,
  };
}
