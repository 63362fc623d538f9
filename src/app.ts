import Fastify, { errorCodes, type FastifyInstance, type FastifyServerOptions, type RouteOptions } from "fastify";
import fastifyJwt from "@fastify/jwt";
import openapiGlue from "fastify-openapi-glue";
import type { Config } from "./config.js";
import type { DatabaseClient } from "./db/client.js";
import { OrdersRepository } from "./domain/orders.js";
import { ProductsRepository } from "./domain/products.js";
import { TokenService } from "./domain/tokens.js";
import { UsersRepository } from "./domain/users.js";
import { authHandlers } from "./handlers/auth.js";
import { healthHandlers, type Lifecycle } from "./handlers/health.js";
import { operationsHandlers } from "./handlers/operations.js";
import { orderHandlers } from "./handlers/orders.js";
import { productHandlers } from "./handlers/products.js";
import { userHandlers } from "./handlers/users.js";
import { validatorCompiler } from "./http/ajv.js";
import { authenticateBeforeValidation, createSecurityHandlers } from "./http/authentication.js";
import { answerClientError, registerProblemHandlers, sendProblem } from "./http/error-handler.js";
import { registerLinkBase } from "./http/pagination.js";
import { invalidRequest, Problem } from "./http/problem.js";
import { echoRequestIds, requestId } from "./http/request-id.js";
import { RequestLogController } from "./http/request-logging.js";
import type { OperationHandlers } from "./http/operation-types.js";
import { loggerOptions } from "./observability/logger.js";
import type { Metrics } from "./observability/metrics.js";
import { registerDocs } from "./plugins/docs.js";
import { registerMetrics } from "./plugins/metrics.js";
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
}

declare module "fastify" {
  interface FastifyInstance {
    lifecycle: Lifecycle;
  }
}

const IDEMPOTENCY_PURGE_INTERVAL_MS = 60 * 60 * 1000;
const DEFAULT_PRESSURE: PressureLimits = { maxEventLoopDelayMs: 1_000, retryAfterSeconds: 5 };

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
          ? invalidRequest([{ path: "/params", message: "must be valid percent-encoded UTF-8 of at most 100 characters" }])
          : new Problem("internal-error", "An unexpected error occurred. Quote the request id when reporting it."),
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
  const limits = await registerAuthLimits(app, config);
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
  const tokens = new TokenService(app.jwt, database.prisma, {
    accessSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    refreshSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
  });

  const purge = setInterval(() => {
    orders.purgeIdempotencyKeys().catch((err: unknown) => app.log.warn({ err }, "could not purge idempotency keys"));
  }, IDEMPOTENCY_PURGE_INTERVAL_MS).unref();
  app.addHook("onClose", async () => clearInterval(purge));

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
