import Fastify, { errorCodes, type FastifyInstance, type FastifyServerOptions, type RouteOptions } from "fastify";
import openapiGlue from "fastify-openapi-glue";
import type { Config } from "./config.js";
import { internalError, invalidFields, RETRY_AFTER_SECONDS } from "./errors/app-error.js";
import { authHandlers } from "./handlers/auth.js";
import { healthHandlers, type Lifecycle, notReadyReason } from "./handlers/health.js";
import { operationsHandlers } from "./handlers/operations.js";
import { orderHandlers } from "./handlers/orders.js";
import { productHandlers } from "./handlers/products.js";
import { userHandlers } from "./handlers/users.js";
import { validatorCompiler } from "./http/ajv.js";
import { authenticateBeforeValidation, createSecurityHandlers } from "./http/authentication.js";
import { answerClientError, registerProblemHandlers, sendProblem } from "./http/error-handler.js";
import type { OperationHandlers } from "./http/operation-types.js";
import { registerLinkBase } from "./http/pagination.js";
import { echoRequestIds, requestId } from "./http/request-id.js";
import { RequestLogController } from "./http/request-logging.js";
import { loggerOptions } from "./observability/logger.js";
import { configPlugin } from "./plugins/config.js";
import { type CoordinationOptions, coordinationPlugin } from "./plugins/coordination.js";
import { corsPlugin } from "./plugins/cors.js";
import { databasePlugin, type ProvidedDatabase } from "./plugins/database.js";
import { docsPlugin } from "./plugins/docs.js";
import { inFlightPlugin } from "./plugins/in-flight.js";
import { jwtPlugin } from "./plugins/jwt.js";
import { metricsPlugin } from "./plugins/metrics.js";
import { periodicJobsPlugin } from "./plugins/periodic-jobs.js";
import { rateLimitsPlugin } from "./plugins/rate-limits.js";
import { repositoriesPlugin } from "./plugins/repositories.js";
import { securityHeadersPlugin } from "./plugins/security-headers.js";
import { type PressureLimits, underPressurePlugin } from "./plugins/under-pressure.js";
import { stringify } from "yaml";
import { loadSpec, SPEC_TEXT } from "./spec.js";

/** What a test (or a benchmark) changes in the app that src/server.ts builds from the configuration alone. */
export interface AppOverrides {
  logger?: FastifyServerOptions["logger"];
  pressure?: PressureLimits;
  /** The OpenAPI document to route and serve; openapi.yaml unless a test swaps in a changed copy. */
  specification?: Record<string, unknown>;
  /** Told of every route as it is added (tests check that routes come only from the spec). */
  observeRoute?: (route: RouteOptions) => void;
  /** A database made elsewhere, instead of DATABASE_URL or the embedded one; closed with the app. */
  database?: ProvidedDatabase;
  /**
   * Coordination with the other processes on the same PostgreSQL (fresh counts across replicas,
   * one process running the periodic jobs). By default on when DATABASE_URL is set, through
   * COORDINATION_DATABASE_URL or DATABASE_URL; tests sharing a database between apps set it.
   */
  coordination?: CoordinationOptions;
  /** How often the idempotency keys are purged (hourly); tests shorten it. */
  purgeIntervalMs?: number;
}

declare module "fastify" {
  interface FastifyInstance {
    lifecycle: Lifecycle;
  }
}

const DEFAULT_PRESSURE: PressureLimits = { maxEventLoopDelayMs: 1_000, retryAfterSeconds: RETRY_AFTER_SECONDS };

/** How long closing waits for requests still in flight once the server has stopped (within server.ts's 10 s grace). */
const IN_FLIGHT_DRAIN_MS = 5_000;

/**
 * The one assembly of the service: the app owns everything it opens (database, embedded server,
 * Redis, coordination connection, timers) and `app.close()` releases all of it. server.ts decides
 * where it listens; tests inject requests or listen on a free port.
 */
export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: overrides.logger ?? loggerOptions(config),
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY,
    // Ids are ours (UUIDv7) unless the client sent a well-formed X-Request-Id; see request-id.ts.
    requestIdHeader: false,
    genReqId: requestId,
    logController: new RequestLogController(),
    clientErrorHandler: answerClientError,
    // Slow-client limits: headers within 5 s, the whole request within 10 s, a silent socket is
    // closed after 60 s, an idle keep-alive one after 5 s (below a load balancer's usual 60 s).
    requestTimeout: 10_000,
    connectionTimeout: 60_000,
    keepAliveTimeout: 5_000,
    // Node checks the header and request timeouts on this interval (30 s by default, which let
    // a slow client keep a socket up to 35 s past its limit); now they hold within a second.
    http: { connectionsCheckingInterval: 500 },
    // Plugins open the database: starting (initdb) and migrating the embedded one can take far
    // longer than Fastify's 10 s on a busy machine.
    pluginTimeout: 300_000,
    // The router's own refusals (a path with broken percent-encoding, a path parameter longer
    // than the router takes) are problems like every other answer, not Fastify's JSON.
    frameworkErrors: (error, request, reply) =>
      sendProblem(
        request,
        reply,
        error.code === "FST_ERR_BAD_URL" || error.code === "FST_ERR_MAX_PARAM_LENGTH"
          ? invalidFields([{ field: [], source: "params", message: "must be valid percent-encoded UTF-8 of at most 100 characters" }])
          : internalError(error),
      ),
  });
  try {
    await assemble(app, config, overrides);
    await app.ready();
  } catch (error) {
    // Whatever was opened before the failure (an embedded server, a pool) is closed again.
    await app.close().catch(() => {});
    throw error;
  }
  return app;
}

async function assemble(app: FastifyInstance, config: Config, overrides: AppOverrides): Promise<void> {
  app.server.headersTimeout = 5_000;
  if (overrides.observeRoute) app.addHook("onRoute", overrides.observeRoute);
  echoRequestIds(app);
  app.setValidatorCompiler(validatorCompiler);
  // Only JSON bodies: anything else is a 415 problem, not a string that fails validation. The
  // spec's response-only media types are refused by name, which also tells fastify-openapi-glue
  // (it warns about media types without a parser) that they were considered.
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser(["text/plain", "application/yaml", "application/problem+json"], (request, _body, done) =>
    done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(request.headers["content-type"]), undefined),
  );
  const specification = overrides.specification ?? loadSpec();
  registerProblemHandlers(app, specification);
  registerLinkBase(app, { publicUrl: config.PUBLIC_URL, allowedHosts: config.ALLOWED_HOSTS });

  const lifecycle: Lifecycle = { shuttingDown: false };
  app.decorate("lifecycle", lifecycle);

  // First, so that its hooks see every request.
  await app.register(inFlightPlugin);
  await app.register(configPlugin, { config });
  await app.register(securityHeadersPlugin);
  await app.register(corsPlugin);
  await app.register(underPressurePlugin, overrides.pressure ?? DEFAULT_PRESSURE);
  await app.register(metricsPlugin);
  await app.register(databasePlugin, { provided: overrides.database });
  await app.register(rateLimitsPlugin);
  await app.register(jwtPlugin);
  await app.register(repositoriesPlugin);
  const shared = !overrides.database && config.DATABASE_URL ? { url: config.COORDINATION_DATABASE_URL ?? config.DATABASE_URL } : {};
  await app.register(coordinationPlugin, overrides.coordination ?? shared);
  await app.register(periodicJobsPlugin, { purgeIntervalMs: overrides.purgeIntervalMs });

  const { database, serviceMetrics: metrics, repositories, authLimits: limits } = app;
  const { users, products, orders, tokens } = repositories;
  metrics.watchReadiness(async () => (await notReadyReason({ database, lifecycle })) === undefined);

  const handlers: OperationHandlers = {
    ...authHandlers({ users, tokens, limits }),
    ...userHandlers({ users, tokens, limits }),
    ...productHandlers({ products }),
    ...orderHandlers({ orders, events: metrics.orderEvents }),
    ...healthHandlers({ database, lifecycle }),
    // openapi.yaml is served as written; a swapped-in document as the YAML of what the app routes.
    ...operationsHandlers({ metrics, specification: { document: specification, yaml: overrides.specification ? stringify(specification) : SPEC_TEXT } }),
  };

  app.addHook("onRoute", authenticateBeforeValidation);
  await app.register(openapiGlue, {
    specification: withConfiguredSecurity(specification, config),
    serviceHandlers: handlers,
    securityHandlers: createSecurityHandlers(tokens, users, config.METRICS_TOKEN),
  });
  // The docs serve the document the app was built with (a swapped-in one too).
  await app.register(docsPlugin, { specification });

  // Added last, so it runs first when the app closes (onClose hooks run last-in, first-out),
  // just after the server has stopped: requests whose clients have gone are finished before the
  // database and the rest are closed under them (else their transactions are aborted into 503s).
  app.addHook("onClose", async () => {
    const { count } = app.inFlight;
    if (count === 0) return;
    app.log.info({ inFlight: count }, `waiting for ${count} requests in flight (their clients may have gone) before closing the database`);
    if (!(await app.inFlight.settled(IN_FLIGHT_DRAIN_MS))) {
      app.log.warn({ inFlight: app.inFlight.count }, `closing with ${app.inFlight.count} requests still in flight after ${IN_FLIGHT_DRAIN_MS} ms`);
    }
  });
}

/**
 * The spec makes the metrics token optional (`security: [{}, {metricsToken: []}]`) because it is
 * only needed when METRICS_TOKEN is set. fastify-openapi-glue lets `{}` through unconditionally,
 * so when a token is configured the route is given only the token requirement.
 */
function withConfiguredSecurity(spec: Record<string, unknown>, config: Config): Record<string, unknown> {
  if (!config.METRICS_TOKEN) return spec;
  const copy = structuredClone(spec) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
  const metrics = copy.paths["/metrics"]?.get;
  if (metrics) metrics.security = [{ metricsToken: [] }];
  return copy;
}
