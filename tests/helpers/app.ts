import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import { buildApp, type AppOptions } from "../../src/app.js";
import { loadConfig, type Config } from "../../src/config.js";
import { createDatabaseClient, type DatabaseClient } from "../../src/db/client.js";
import { ensureDefaultAdmin } from "../../src/domain/default-admin.js";
import { UsersRepository } from "../../src/domain/users.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { createTestDatabase } from "./database.js";
import { assertMatchesSpec } from "./contract.js";
import { registerUser, viaApp } from "./factories.js";

// The reference's development admin, so the seed client flow is tested with its own credentials.
export const ADMIN = { name: "admin", password: "12345" };

export interface TestApp {
  app: FastifyInstance;
  database: DatabaseClient;
  config: Config;
  /** Sends a request through Fastify's inject and checks the answer against openapi.yaml. */
  request(options: InjectOptions & { token?: string }): Promise<LightMyRequestResponse>;
  login(name: string, password: string): Promise<{ access: string; refresh: string }>;
  adminToken(): Promise<string>;
  /** Registers a user with a valid password and returns its id and tokens. */
  createUser(name?: string): Promise<{ id: string; name: string; password: string; access: string; refresh: string }>;
  close(): Promise<void>;
}

// Tests log in far more often than a person; the abuse tests set their own, low limits.
const GENEROUS_LIMITS = { LOGIN_RATE_LIMIT_PER_MINUTE: 100_000, REGISTER_RATE_LIMIT_PER_HOUR: 100_000, LOGIN_FAILURES_BEFORE_DELAY: 100_000, REGISTER_ATTEMPTS_PER_NAME_PER_HOUR: 100_000, DB_POOL_MAX: 5 };

/** A fresh app on its own empty, migrated database (PGlite or PostgreSQL, see TEST_DB). */
export async function startTestApp(overrides: Partial<Config> = {}, options: Partial<AppOptions> = {}): Promise<TestApp> {
  const testDb = await createTestDatabase();
  const config = { ...loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent" }), ...GENEROUS_LIMITS, ...overrides };
  const metrics = createMetrics();
  const database = createDatabaseClient(testDb.url, {
    poolMax: config.DB_POOL_MAX,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: config.DB_LOCK_TIMEOUT_MS,
    observeQuery: metrics.observeQuery,
    ...testDb.waits,
  });
  await ensureDefaultAdmin(new UsersRepository(database.prisma), ADMIN.password);
  // PGlite runs in this process and blocks the event loop while it works, so the overload guard
  // is off here; tests/abuse.test.ts switches it on.
  const pressure = { maxEventLoopDelayMs: 0, retryAfterSeconds: 5 };
  const app = await buildApp({ config, database, metrics, pressure, logger: false, ...options });
  await app.ready();

  const request: TestApp["request"] = async ({ token, headers, ...rest }) => {
    const response = await app.inject({
      ...rest,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
    assertMatchesSpec(rest.method ?? "GET", String(rest.url), response);
    return response;
  };

  const login: TestApp["login"] = async (name, password) => {
    const response = await request({ method: "POST", url: "/api/token/", payload: { name, password } });
    if (response.statusCode !== 200) throw new Error(`login as ${name} failed: ${response.body}`);
    return response.json();
  };

  let adminAccess: string | undefined;
  return {
    app,
    database,
    config,
    request,
    login,
    async adminToken() {
      adminAccess ??= (await login(ADMIN.name, ADMIN.password)).access;
      return adminAccess;
    },
    async createUser(name?: string) {
      const user = await registerUser(viaApp({ request }), { name });
      const tokens = await login(user.name, user.password);
      return { id: user.id, name: user.name, password: user.password, ...tokens };
    },
    async close() {
      await app.close();
      await database.close();
      await testDb.close();
    },
  };
}
