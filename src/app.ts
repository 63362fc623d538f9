import type { Server } from "node:http";
import type { FastifyHttpOptions, FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import openapiGlue from "fastify-openapi-glue";
import { stringify } from "yaml";
import { accounts, authenticateBeforeValidation, createSecurityHandlers } from "./accounts/index.js";
import { catalogue } from "./catalogue/index.js";
import { events } from "./events/index.js";
import { internalError, invalidFields, RETRY_AFTER_SECONDS, serviceUnavailable } from "./errors/app-error.js";
import type { Config } from "./infra/config.js";
import { type CoordinationOptions, coordinationPlugin } from "./infra/coordination/plugin.js";
import { databasePlugin, type ProvidedDatabase } from "./infra/db/plugin.js";
import type { Feature } from "./infra/feature.js";
import { validatorCompiler } from "./infra/http/ajv.js";
import { registerBodyParsers } from "./infra/http/body-parsers.js";
import { answerClientError, problemHandlersPlugin, sendProblem } from "./infra/http/error-handler.js";
import type { OperationHandlers } from "./infra/http/operation-types.js";
import { linkBasePlugin } from "./infra/http/pagination.js";
import { echoRequestIds, requestId } from "./infra/http/request-id.js";
import { RequestLogController } from "./infra/http/request-logging.js";
import { periodicJobsPlugin } from "./infra/jobs/plugin.js";
import { loggerOptions } from "./infra/logger.js";
import { loadSpec, SPEC_TEXT } from "./infra/spec.js";
import { type Lifecycle, notReadyReason, operations, type ServedSpecification } from "./operations/index.js";
import { orders } from "./orders/index.js";
import { configPlugin } from "./platform/config.js";
import { corsPlugin } from "./platform/cors.js";
import { docsPlugin } from "./platform/docs.js";
import { inFlightPlugin } from "./platform/in-flight.js";
import { jwtPlugin } from "./platform/jwt.js";
import { metricsPlugin } from "./platform/metrics.js";
import { requestTracingPlugin } from "./platform/request-tracing.js";
import { securityHeadersPlugin } from "./platform/security-headers.js";
import { type PressureLimits, underPressurePlugin } from "./platform/under-pressure.js";

/** The API's resources, each a folder of src/: adding one is a folder and a line here. */
export const FEATURES: readonly Feature[] = [accounts, catalogue, orders, events, operations];

/** What the app is registered with: the configuration, and what a test or benchmark steers. */
export interface AppOptions {
  config: Config;
  pressure?: PressureLimits;
  /** The OpenAPI document to route and serve; openapi.yaml unless a test swaps in a changed copy. */
  specification?: Record<string, unknown>;
  /** A database made elsewhere, instead of DATABASE_URL or the embedded one; closed with the app. */
  database?: ProvidedDatabase;
  /**
   * Coordination with the other processes on the same PostgreSQL (fresh counts across replicas,
   * one process running the periodic jobs). By default on when DATABASE_URL is set, through
   * COORDINATION_DATABASE_URL or DATABASE_URL; tests sharing a database between apps set it.
   */
  coordination?: Omit<CoordinationOptions, "channels">;
  /** Every periodic job's interval instead of its own (hourly for the idempotency purge); tests shorten it. */
  jobIntervalMs?: number;
}

declare module "fastify" {
  interface FastifyInstance {
    lifecycle: Lifecycle;
    specification: ServedSpecification;
  }
}

const DEFAULT_PRESSURE: PressureLimits = { maxEventLoopDelayMs: 1_000, retryAfterSeconds: RETRY_AFTER_SECONDS };

/** How long closing waits for requests still in flight once the server has stopped (within server.ts's 10 s grace). */
const IN_FLIGHT_DRAIN_MS = 5_000;

/** The Fastify server options of the service: src/server.ts and the tests create their instance with them. */
export function serverOptions(config: Config): FastifyHttpOptions<Server> {
  return {
    logger: loggerOptions(config),
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
    // While closing, requests still arriving on kept-alive connections get the shutdown problem
    // (refuseWhileClosing), not Fastify's own JSON 503 without code, Retry-After or X-Request-Id.
    return503OnClosing: false,
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
  };
}

/**
 * The service, as one plugin: it owns everything it opens (database, embedded server, Redis,
 * coordination connection, timers), and closing the instance it is registered on releases all of
 * it. src/server.ts registers it and listens; tests register it on an instance of their own.
 */
async function orderService(app: FastifyInstance, options: AppOptions): Promise<void> {
  const { config } = options;
  app.server.headersTimeout = 5_000;
  // Tracing (when src/instrumentation.ts started it) first, so that every request has its trace id.
  const tracing = requestTracingPlugin();
  if (tracing) await app.register(tracing);
  echoRequestIds(app);
  app.setValidatorCompiler(validatorCompiler);
  registerBodyParsers(app);
  const document = options.specification ?? loadSpec();
  // openapi.yaml is served as written; a swapped-in document as the YAML of what the app routes.
  app.decorate("specification", { document, yaml: options.specification ? stringify(document) : SPEC_TEXT });
  app.decorate("lifecycle", { shuttingDown: false });
  refuseWhileClosing(app);

  // First, so that its hooks see every request.
  await app.register(inFlightPlugin);
  await app.register(configPlugin, { config });
  await app.register(problemHandlersPlugin, { specification: document });
  await app.register(linkBasePlugin, { publicUrl: config.PUBLIC_URL, allowedHosts: config.ALLOWED_HOSTS });
  await app.register(securityHeadersPlugin);
  await app.register(corsPlugin);
  await app.register(underPressurePlugin, options.pressure ?? DEFAULT_PRESSURE);
  await app.register(metricsPlugin);
  await app.register(databasePlugin, { provided: options.database });
  await app.register(jwtPlugin);
  const shared = !options.database && config.DATABASE_URL ? { url: config.COORDINATION_DATABASE_URL ?? config.DATABASE_URL } : {};
  await app.register(coordinationPlugin, { ...(options.coordination ?? shared), channels: FEATURES.flatMap((feature) => feature.channels ?? []) });
  for (const feature of FEATURES) if (feature.plugin) await app.register(feature.plugin);
  await app.register(periodicJobsPlugin, { jobs: FEATURES.flatMap((feature) => feature.jobs?.(app) ?? []), intervalMs: options.jobIntervalMs });

  const { database, lifecycle, accounts } = app;
  app.serviceMetrics.watchReadiness(async () => (await notReadyReason({ database, lifecycle })) === undefined);

  // The spec's every operation must have its handler: a missing one is a type error here.
  const handlers = Object.assign({}, ...FEATURES.map((feature) => feature.handlers(app))) as OperationHandlers;
  app.addHook("onRoute", authenticateBeforeValidation);
  await app.register(openapiGlue, {
    specification: withConfiguredSecurity(document, config),
    serviceHandlers: handlers,
    securityHandlers: createSecurityHandlers(accounts.tokens, accounts.principals, config.METRICS_TOKEN),
  });
  // The docs serve the document the app was built with (a swapped-in one too).
  await app.register(docsPlugin, { specification: document });

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
 * From the moment the app starts closing (SIGTERM, or close() in a test), every new request is a
 * 503 problem with Retry-After (another instance may answer at once) and Connection: close;
 * the requests already in flight finish.
 */
function refuseWhileClosing(app: FastifyInstance): void {
  app.addHook("preClose", async () => {
    app.lifecycle.shuttingDown = true;
  });
  app.addHook("onRequest", async (_request, reply) => {
    if (!app.lifecycle.shuttingDown) return;
    reply.header("connection", "close");
    throw serviceUnavailable("The service is shutting down; try again shortly (another instance may answer at once).");
  });
}

export const app = fp(orderService, { name: "order-service", fastify: "5.x" });

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
