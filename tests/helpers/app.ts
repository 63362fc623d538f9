import { ADMIN } from "../../support/admin.js";
import Fastify, { type FastifyInstance, type FastifyServerOptions, type InjectOptions, type LightMyRequestResponse, type RouteOptions } from "fastify";
import { type AppOptions, app as orderService, serverOptions } from "../../src/app.js";
import { type Config, loadConfig } from "../../src/infra/config.js";
import type { Database } from "../../src/infra/db/plugin.js";
import { assertMatchesSpec } from "./contract.js";
import { createTestDatabase } from "./database.js";
import { registerUser, viaApp } from "./factories.js";

/** What a test steers beyond the app's options: its logger, and a look at every route as it is added. */
export type AppOverrides = Omit<AppOptions, "config"> & {
  logger?: FastifyServerOptions["logger"];
  /** Told of every route as it is added (tests check that routes come only from the spec). */
  observeRoute?: (route: RouteOptions) => void;
};

/**
 * The service registered on a Fastify instance of the test's own, as src/server.ts registers it,
 * ready; whatever was opened is closed again when it fails to start.
 */
export async function buildApp(config: Config, { logger, observeRoute, ...options }: AppOverrides = {}): Promise<FastifyInstance> {
  const app = Fastify({ ...serverOptions(config), ...(logger === undefined ? {} : { logger }) });
  if (observeRoute) app.addHook("onRoute", observeRoute);
  try {
    await app.register(orderService, { config, ...options });
    await app.ready();
  } catch (error) {
    await app.close().catch(() => {});
    throw error;
  }
  return app;
}

export interface TestApp {
  app: FastifyInstance;
  database: Database;
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
const GENEROUS_LIMITS = {
  LOGIN_RATE_LIMIT_PER_MINUTE: 100_000,
  REGISTER_RATE_LIMIT_PER_HOUR: 100_000,
  LOGIN_FAILURES_BEFORE_DELAY: 100_000,
  REGISTER_ATTEMPTS_PER_NAME_PER_HOUR: 100_000,
  DB_POOL_MAX: 5,
};

/**
 * The overload guard answers 503 while the event loop lags, and here the loop is not the
 * service's alone: the test runs on it too (fast-check, the contract check of every answer, the
 * load some tests generate), and a stall of the test's own once got 503s for the service in CI.
 * So it is off unless a test sets it (tests/accounts/login-limits.test.ts tests it); the tests
 * that start the service as a process of its own (tests/helpers/server-process.ts) run it as
 * production does.
 */
const GUARD_OFF = { maxEventLoopDelayMs: 0, retryAfterSeconds: 1 };

/** A fresh app on its own empty, migrated database (PGlite or PostgreSQL, see TEST_DB); closing it drops the database. */
export async function startTestApp(overrides: Partial<Config> = {}, options: AppOverrides = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const environment = { NODE_ENV: "test", LOG_LEVEL: "silent", ADMIN_PASSWORD: ADMIN.password, ...database.env };
  const config = { ...loadConfig(environment), ...GENEROUS_LIMITS, ...overrides };
  const app = await buildApp(config, { database, logger: false, pressure: GUARD_OFF, ...options });

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
    database: app.database,
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
    close: () => app.close(),
  };
}
