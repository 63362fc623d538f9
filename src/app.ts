import Fastify, { errorCodes, type FastifyInstance, type FastifyServerOptions, type RouteOptions } from "fastify";
import fastifyJwt from "@fastify/jwt";
import openapiGlue from "fastify-openapi-glue";
import type { Config } from "./config.js";
import type { DatabaseClient } from "./db/client.js";
import { startCoordination } from "./db/coordination.js";
import { OrdersRepository } from "./domain/orders.js";
import { PRODUCTS_CHANGED_CHANNEL, ProductsRepository } from "./domain/products.js";
import { TokenService } from "./domain/tokens.js";
import { internalError, invalidFields, RETRY_AFTER_SECONDS } from "./errors/app-error.js";
import { UsersRepository } from "./domain/users.js";
import { authHandlers } from "./handlers/auth.js";
import { healthHandlers, notReadyReason, type Lifecycle } from "./handlers/health.js";
import { operationsHandlers } from "./handlers/operations.js";
import { orderHandlers } from "./handlers/orders.js";
import { productHandlers } from "./handlers/products.js";
import { userHandlers } from "./handlers/users.js";
import { validatorCompiler } from "./http/ajv.js";
import { authenticateBeforeValidation, createSecurityHandlers } from "./http/authentication.js";
import { answerClientError, registerProblemHandlers, sendProblem } from "./http/error-handler.js";
import { jwtSigner } from "./http/jwt-signer.js";
import { registerLinkBase } from "./http/pagination.js";
import { echoRequestIds, requestId } from "./http/request-id.js";
import { RequestLogController } from "./http/request-logging.js";
import type { OperationHandlers } from "./http/operation-types.js";
import { loggerOptions } from "./observability/logger.js";
import { runPeriodicJobs } from "./jobs/periodic.js";
import type { Metrics } from "./observability/metrics.js";
import { registerDocs } from "./plugins/docs.js";
import { registerMetrics } from "./plugins/metrics.js";
import { createSharedRateLimitStore } from "./plugins/rate-limit-store.js";
import { registerAuthLimits } from "./plugins/rate-limits.js";
import { registerSecurityHeaders } from "./plugins/security-headers.js";
import { registerUnderPressure, type PressureLimits } from "./plugins/under-pressure.js";
import { loadSpec } from "./spec.js";

export interface AppOptions {
  config: Config;
  database: DatabaseClient;
  metrics: Metrics;
  logger?: FastifyServerOptions["logger"];
  pressure?: PressureLimits;
  /** The OpenAPI document to serve; openapi.yaml unless a test swaps in a changed copy. */
  specification?: Record<string, unknown>;
  /** Told of every route as it is added (tests check that routes come only from the spec). */
  observeRoute?: (route: RouteOptions) => void;
  /**
   * Set when the database is a PostgreSQL shared with other processes (not the embedded one):
   * its URL for the coordination connection (fresh counts across replicas, one process running
   * the periodic jobs), and how often that connection is checked.
   */
  coordination?: { url: string; checkIntervalMs?: number };
  /** How often the idempotency keys are purged (hourly); tests shorten it. */
  purgeIntervalMs?: number;
}

declare module "fastify" {
  interface FastifyInstance {
    lifecycle: Lifecycle;
  }
}

const IDEMPOTENCY_PURGE_INTERVAL_MS = 60 * 60 * 1000;
/** Any key works, as long as every process of a deployment uses the same one. */
const JOBS_LOCK_KEY = 0x6f726473; // "ords"
const JOBS_POLL_MS = 1_000;
const DEFAULT_PRESSURE: PressureLimits = { maxEventLoopDelayMs: 1_000, retryAfterSeconds: RETRY_AFTER_SECONDS };

/** Builds the HTTP application; server.ts decides where it listens and what it runs on. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, database, metrics } = options;
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config),
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
  app.server.headersTimeout = 5_000;
  if (options.observeRoute) app.addHook("onRoute", options.observeRoute);
  echoRequestIds(app);
  app.setValidatorCompiler(validatorCompiler);
  // Only JSON bodies: anything else is a 415 problem, not a string that fails validation. The
  // spec's response-only media types are refused by name, which also tells fastify-openapi-glue
  // (it warns about media types without a parser) that they were considered.
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser(["text/plain", "application/yaml", "application/problem+json"], (request, _body, done) =>
    done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(request.headers["content-type"]), undefined),
  );
  const specification = options.specification ?? loadSpec();
  registerProblemHandlers(app, specification);
  registerLinkBase(app, { publicUrl: config.PUBLIC_URL, allowedHosts: config.ALLOWED_HOSTS });

  const lifecycle: Lifecycle = { shuttingDown: false };
  app.decorate("lifecycle", lifecycle);

  await registerSecurityHeaders(app, config.CORS_ORIGINS.split(",").map((o) => o.trim()).filter(Boolean));
  await registerUnderPressure(app, options.pressure ?? DEFAULT_PRESSURE);
  await registerMetrics(app, metrics);
  metrics.watchPool(database.pool);
  const limitStore = config.REDIS_URL
    ? await createSharedRateLimitStore(config.REDIS_URL, { log: app.log.child({ component: "rate-limits" }), events: metrics.rateLimitStore })
    : undefined;
  if (limitStore) app.addHook("onClose", () => limitStore.close());
  else if (config.WORKERS > 1 || config.NODE_ENV === "production") {
    app.log.warn("REDIS_URL is not set: rate limits are counted per process, so N processes or replicas allow N times each limit");
  }
  const limits = await registerAuthLimits(app, config, limitStore?.options);
  await app.register(fastifyJwt, {
    secret: config.JWT_SECRET,
    sign: { algorithm: "HS256" },
    // `cache`: fast-jwt remembers verified tokens (until they expire), so a client's repeated
    // requests skip the HMAC and JSON work.
    // Tokens without `exp` are refused: a token must not live for ever.
    verify: { algorithms: ["HS256"], cache: true, requiredClaims: ["exp", "iat"] },
  });

  const users = new UsersRepository(database.prisma);
  const products = new ProductsRepository(database.prisma, database.query);
  const orders = new OrdersRepository(database.prisma);
  const tokens = new TokenService(jwtSigner(app.jwt), database.prisma, {
    accessSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    refreshSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
  });

  metrics.watchReadiness(async () => (await notReadyReason({ database, lifecycle })) === undefined);
  const coordination = options.coordination
    ? startCoordination(options.coordination.url, {
        channels: [PRODUCTS_CHANGED_CHANNEL],
        leaderLockKey: JOBS_LOCK_KEY,
        checkIntervalMs: options.coordination.checkIntervalMs,
        log: app.log.child({ component: "coordination" }),
        onStateChange: (state) => metrics.coordination(state),
      })
    : undefined;
  coordination?.onChange(PRODUCTS_CHANGED_CHANNEL, () => products.invalidateCounts());
  if (!coordination) metrics.coordination({ connected: false, leader: true });
  // Without coordination the database is this process's own (embedded): it is the only runner.
  const purgeIntervalMs = options.purgeIntervalMs ?? IDEMPOTENCY_PURGE_INTERVAL_MS;
  const jobs = runPeriodicJobs(
    [{ name: "idempotency-purge", intervalMs: purgeIntervalMs, run: () => orders.purgeIdempotencyKeys() }],
    {
      isLeader: coordination ? coordination.isLeader : () => true,
      pollMs: Math.min(JOBS_POLL_MS, purgeIntervalMs),
      onRun: (job, outcome, err) => {
        metrics.jobRun(job, outcome);
        if (err) app.log.warn({ err, job }, "periodic job failed");
      },
    },
  );
  app.addHook("onClose", async () => {
    jobs.stop();
    await coordination?.close();
  });

  const handlers: OperationHandlers = {
    ...authHandlers({ users, tokens, limits }),
    ...userHandlers({ users, tokens, limits }),
    ...productHandlers({ products }),
    ...orderHandlers({ orders, events: metrics.orderEvents }),
    ...healthHandlers({ database, lifecycle }),
    ...operationsHandlers({ metrics }),
  };

  app.addHook("onRoute", authenticateBeforeValidation);
  await app.register(openapiGlue, {
    specification: withConfiguredSecurity(specification, config),
    serviceHandlers: handlers,
    securityHandlers: createSecurityHandlers(tokens, users, config.METRICS_TOKEN),
  });
  await registerDocs(app, loadSpec());
  return app;
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
