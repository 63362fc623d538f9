import type { FastifyPluginCallback } from "fastify";
import fp from "fastify-plugin";
import { rememberTraceId } from "../infra/http/trace-context.js";
import type { RequestSampler } from "./request-sampling.js";

/** What src/platform/tracing.ts sets up for requests when tracing is on. */
export interface RequestTracing {
  sampler: RequestSampler;
  /** @fastify/otel's plugin (FastifyOtelInstrumentation.plugin()), its ignorePaths asking the sampler. */
  instrumentation: FastifyPluginCallback;
  /** Probes and scrapes: no span, no trace id. */
  isUntraced: (route: { url: string }) => boolean;
}

let active: RequestTracing | undefined;

/** Called by src/platform/tracing.ts, which starts before the app: the app's requests are traced so. */
export function traceRequestsWith(tracing: RequestTracing | undefined): void {
  active = tracing;
}

/**
 * The plugin tracing each request, or undefined when tracing is off (nothing is added to a
 * request's path then). Its onRequest hook comes first and decides the request's sampling
 * (request-sampling.ts) right before @fastify/otel's own hook, which makes the request's span only
 * for a recorded request. Either way the request's log lines and problem documents carry its trace id.
 */
export function requestTracingPlugin(): FastifyPluginCallback | undefined {
  const tracing = active;
  if (tracing === undefined) return undefined;
  const { sampler, instrumentation, isUntraced } = tracing;
  return fp(
    (instance, options, done) => {
      instance.addHook("onRequest", function decideSampling(request, _reply, next) {
        if (isUntraced(request)) {
          rememberTraceId(request, undefined);
          next();
          return;
        }
        const decided = sampler.decide(request.headers);
        rememberTraceId(request, decided.traceId);
        sampler.proceed(decided, next);
      });
      // Called here rather than registered, so that its onRequest hook directly follows ours.
      instrumentation(instance, options, done);
    },
    { name: "request-tracing" },
  );
}
