import { INVALID_TRACEID } from "@opentelemetry/api";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { logDeferredIncomingRequest } from "./request-logging.js";

/**
 * Trace ids by the request's logger (request.log, which is reply.log too): a lookup when a line
 * is written, rather than a child logger per request, whose bindings pino serialises up front.
 */
const traceIds = new WeakMap<object, string>();

/** The W3C trace id the request is traced under, when tracing is on. */
export const traceIdOf = (request: FastifyRequest): string | undefined => traceIds.get(request.log);

/** pino's `mixin`: a request's log lines carry `trace_id` beside `request_id` when it is traced. */
export function traceIdMixin(_fields: object, _level: number, logger: object): Record<string, string> {
  const traceId = traceIds.get(logger);
  return traceId === undefined ? {} : { trace_id: traceId };
}

/**
 * When tracing is on, every request's log lines carry `trace_id` beside `request_id` (through
 * traceIdMixin), and its problem documents too. @fastify/otel's own onRequest hook is the app's
 * first (it is added when the Fastify instance is created), so the request's span is started
 * here; it has a trace id whether or not it is sampled (an unsampled request runs without it in
 * the active context: src/platform/unrecorded-context.ts). Without tracing nothing is added to a
 * request's path.
 */
export function bindTraceIds(app: FastifyInstance): void {
  if (!app.hasRequestDecorator("opentelemetry")) return;
  app.addHook("onRequest", (request, _reply, done) => {
    const traceId = request.opentelemetry().span?.spanContext().traceId;
    // Tracing suppressed (or no span): an all-zero id names no trace.
    if (traceId !== undefined && traceId !== INVALID_TRACEID) traceIds.set(request.log, traceId);
    logDeferredIncomingRequest(request);
    done();
  });
}
