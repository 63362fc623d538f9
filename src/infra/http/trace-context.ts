import { context, isSpanContextValid, trace } from "@opentelemetry/api";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { logDeferredIncomingRequest } from "./request-logging.js";

const traceIds = new WeakMap<FastifyRequest, string>();

/** The W3C trace id the request is traced under, when tracing is on. */
export const traceIdOf = (request: FastifyRequest): string | undefined => traceIds.get(request);

/**
 * When tracing is on, every request's log lines carry `trace_id` beside `request_id`, and its
 * problem documents too. @fastify/otel's own onRequest hook is the app's first (it is added when
 * the Fastify instance is created), so the request's span is the active one here. Without
 * tracing nothing is added to a request's path.
 */
export function bindTraceIds(app: FastifyInstance): void {
  if (!app.hasRequestDecorator("opentelemetry")) return;
  app.addHook("onRequest", (request, reply, done) => {
    const spanContext = trace.getSpan(context.active())?.spanContext();
    if (spanContext && isSpanContextValid(spanContext)) {
      traceIds.set(request, spanContext.traceId);
      request.log = request.log.child({ trace_id: spanContext.traceId });
      reply.log = request.log;
    }
    logDeferredIncomingRequest(request);
    done();
  });
}
