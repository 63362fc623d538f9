import type { FastifyRequest } from "fastify";
import { logDeferredIncomingRequest } from "./request-logging.js";

/**
 * A request's trace id is kept on its logger (request.log, which is reply.log too), where pino's
 * mixin finds it when a line is written: a property set once per request, rather than a child
 * logger per request (whose bindings pino serialises up front) or a WeakMap entry (an ephemeron
 * the garbage collector traces for every request).
 */
const TRACE_ID = Symbol("trace id");
interface TracedLogger {
  [TRACE_ID]?: string;
}

/** The W3C trace id the request is traced under, when tracing is on. */
export const traceIdOf = (request: FastifyRequest): string | undefined => (request.log as TracedLogger)[TRACE_ID];

/** pino's `mixin`: a request's log lines carry `trace_id` beside `request_id` when it is traced. */
export function traceIdMixin(_fields: object, _level: number, logger: object): Record<string, string> {
  const traceId = (logger as TracedLogger)[TRACE_ID];
  return traceId === undefined ? {} : { trace_id: traceId };
}

/**
 * Called for each request when tracing is on (src/platform/request-tracing.ts), before any other
 * hook: its log lines carry `trace_id` from here on (traceIdMixin), its problem documents too, and
 * its `incoming request` line, held back until now, is written. A probe has no trace id.
 */
export function rememberTraceId(request: FastifyRequest, traceId: string | undefined): void {
  if (traceId !== undefined) (request.log as TracedLogger)[TRACE_ID] = traceId;
  logDeferredIncomingRequest(request);
}
