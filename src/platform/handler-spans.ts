import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { context, SpanStatusCode, trace, type Attributes, type Span } from "@opentelemetry/api";
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from "fastify";

/** Scope and attributes as @fastify/otel names its own handler spans, so that backends group them alike. */
const SCOPE = "@fastify/otel";

/** The request span of each request whose trace is recorded (set by @fastify/otel's requestHook). */
const recordedRequests = new WeakMap<FastifyRequest, Span>();

/** @fastify/otel's requestHook: remembers the request's span when its trace is recorded. */
export function rememberRecordedRequest(span: Span, request: FastifyRequest): void {
  if (span.isRecording()) recordedRequests.set(request, span);
}

type Handler = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown;

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | undefined)?.then === "function";

function failed(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  if (error instanceof Error) span.recordException(error);
  span.end();
}

/** Runs `handler` in a span of its own when the request is recorded; otherwise just runs it. */
function withHandlerSpan(handler: Handler, name: string, attributes: Attributes): Handler {
  const tracer = trace.getTracer(SCOPE);
  return function handlerOfRecordedRequest(this: FastifyInstance, request, reply) {
    const requestSpan = recordedRequests.get(request);
    if (requestSpan === undefined) return handler.call(this, request, reply);
    return tracer.startActiveSpan(name, { attributes }, trace.setSpan(context.active(), requestSpan), (span) => {
      try {
        const result = handler.call(this, request, reply);
        if (!isThenable(result)) {
          span.end();
          return result;
        }
        return result.then(
          (value) => {
            span.end();
            return value;
          },
          (error: unknown) => {
            failed(span, error);
            throw error;
          },
        );
      } catch (error) {
        failed(span, error);
        throw error;
      }
    });
  };
}

/**
 * A `handler - <name>` span around each route's handler, as @fastify/otel's `instrumentHandler`
 * makes it (same name, scope and attributes), but only for a request whose trace is recorded.
 * @fastify/otel wraps every handler and, for every request, checks its route, starts a span,
 * enters a context and chains a promise, sampled or not; here a request that is not recorded
 * costs one WeakMap lookup. Routes are wrapped as they are added, on every Fastify instance
 * created after this call (the diagnostics channel @fastify/otel itself listens on), until the
 * function returned is called.
 */
export function traceHandlersOfRecordedRequests(isUntraced: (route: { url: string }) => boolean): () => void {
  const onInitialization = (message: unknown) => {
    const { fastify } = message as { fastify: FastifyInstance };
    fastify.addHook("onRoute", function wrapHandler(this: FastifyInstance, route: RouteOptions) {
      if (isUntraced(route) || (route.config as { otel?: unknown } | undefined)?.otel === false) return;
      const handler = route.handler as Handler;
      const callbackName = handler.name.length > 0 ? handler.name : "anonymous";
      route.handler = withHandlerSpan(handler, `handler - ${callbackName}`, {
        "hook.name": `${this.pluginName} - route-handler`,
        "fastify.type": "request-handler",
        "http.route": route.url,
        "hook.callback.name": callbackName,
      }) as RouteOptions["handler"];
    });
  };
  subscribe("fastify.initialization", onInitialization);
  return () => unsubscribe("fastify.initialization", onInitialization);
}
