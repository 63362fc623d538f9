import { FastifyOtelInstrumentation } from "@fastify/otel";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { NodeSDK, tracing } from "@opentelemetry/sdk-node";
import { createSamplerFromEnv } from "@opentelemetry/sdk-node/build/src/create-from-env.js";
import { PrismaInstrumentation } from "@prisma/instrumentation";
import { skipPrismaSpansOfUnrecordedRequests } from "./prisma-unrecorded.js";
import { rememberRecordedRequest, traceHandlersOfRecordedRequests } from "./handler-spans.js";
import { propagatedParentOf, propagatesW3COnly, RequestSampler, traceparentOf } from "./request-sampling.js";
import { traceRequestsWith } from "./request-tracing.js";
import { UNRECORDED_CONTEXT, UnrecordedContextManager } from "./unrecorded-context.js";
import { skipWorkForUnsampledSpans } from "./unsampled-spans.js";

/** Requests that only poll the service: probes and Prometheus' scrapes are not traced. */
const UNTRACED_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * A route (when it is added) or a request (twice per request) that is not traced. An API path
 * (/api/…) is told apart by its first characters: splitting every request's URL cost about a
 * microsecond per request.
 */
function isUntraced({ url }: { url: string }): boolean {
  if (url.startsWith("/api/")) return false;
  return UNTRACED_PATHS.has((url.split("?")[0] ?? url).replace(/\/$/, ""));
}

/**
 * Starts the OpenTelemetry Node SDK with the service's instrumentations: @fastify/otel (a span
 * per request and handler, continuing a W3C `traceparent`), Prisma's (operations,
 * transactions, serialisation) and pg's (every SQL statement, the embedded database's too: it is
 * reached through pg on loopback). Exporter, endpoint, headers, sampler and resource come from
 * the standard OTEL_* variables, which the SDK reads itself; only traces are exported (metrics
 * stay with Prometheus, logs with stdout).
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): NodeSDK {
  env.OTEL_SERVICE_NAME ??= "order-service";
  env.OTEL_METRICS_EXPORTER ??= "none";
  env.OTEL_LOGS_EXPORTER ??= "none";
  // The sampler the SDK would make from OTEL_TRACES_SAMPLER*, shared with the request sampler,
  // which decides before a request's span is made (request-sampling.ts).
  const sampler = createSamplerFromEnv() ?? new tracing.ParentBasedSampler({ root: new tracing.AlwaysOnSampler() });
  const requestSampler = new RequestSampler({
    sampler,
    ids: new tracing.RandomIdGenerator(),
    parentOf: propagatesW3COnly(env) ? traceparentOf : propagatedParentOf,
    unrecorded: UNRECORDED_CONTEXT,
  });
  const fastifyInstrumentation = new FastifyOtelInstrumentation({
    // Registered by the app (request-tracing.ts), after the hook that decides sampling.
    registerOnInitialization: false,
    // A span per hook (a dozen per request) doubled a cached read's CPU even with 10 % sampling
    // (docs/guides/tracing.md); the request and handler spans show where the time went.
    instrumentHooks: false,
    // The handler's span is made for recorded requests only (handler-spans.ts).
    instrumentHandler: false,
    requestHook: rememberRecordedRequest,
    // A request not recorded makes no span; nor do probes and scrapes.
    ignorePaths: (route) => requestSampler.skipsThisRequest() || isUntraced(route),
  });
  const sdk = new NodeSDK({
    contextManager: new UnrecordedContextManager(),
    sampler,
    idGenerator: requestSampler.idGenerator,
    instrumentations: [
      fastifyInstrumentation,
      new PrismaInstrumentation({
        // Prisma's own steps in the process (turning a call into a query, compiling its plan,
        // opening and committing a transaction) were a span each, two to three per operation of
        // every sampled request. Its db_query span repeated each statement that pg's span under it
        // records in full (text, database, server, prepared statement's name): a sampled order
        // carried every statement's text twice. Operations and transactions stay; pg's statement
        // spans, BEGIN and COMMIT included, are the SQL.
        ignoreSpanTypes: [
          "prisma:client:serialize",
          "prisma:client:compile",
          "prisma:client:start_transaction",
          "prisma:client:commit_transaction",
          "prisma:client:db_query",
        ],
      }),
      new PgInstrumentation({
        // Statements outside a request (the periodic jobs' bookkeeping, pool connects) would each be a trace of their own.
        requireParentSpan: true,
        // A `pg-pool.connect` span per checkout parsed the pool's connection URL every time, sampled
        // or not; the wait for a connection still shows as the gap before a statement's span.
        ignoreConnectSpans: true,
      }),
    ],
  });
  traceHandlersOfRecordedRequests(isUntraced);
  traceRequestsWith({ sampler: requestSampler, instrumentation: fastifyInstrumentation.plugin(), isUntraced });
  sdk.start();
  skipWorkForUnsampledSpans();
  skipPrismaSpansOfUnrecordedRequests();
  // The batch of spans not yet sent goes out when the process winds down after a graceful shutdown.
  process.once("beforeExit", () => void sdk.shutdown());
  return sdk;
}
