import { context, ProxyTracerProvider, trace, type Context, type Span, type SpanOptions, type Tracer, type TracerProvider } from "@opentelemetry/api";
import { contextForRoot, isUnrecordedLocalSpan } from "./unrecorded-context.js";

/**
 * The span a new span under `parent` would be anyway, when the trace is not being recorded: the
 * parent itself, non-recording (a local parent only: see isUnrecordedLocalSpan).
 */
function unsampledParent(parent: Span | undefined, options: SpanOptions | undefined): Span | undefined {
  return !options?.root && isUnrecordedLocalSpan(parent) ? parent : undefined;
}

/**
 * A tracer that does no work for a span whose trace is not being recorded. With sampling (say
 * 10 %), nine requests in ten start a non-recording span; every span the instrumentations start
 * under it would be non-recording too (ParentBased follows the parent, TraceIdRatio decides the
 * same for the same trace id), yet the SDK still makes an id, copies the attributes and asks the
 * sampler for each. Here such a span is the parent itself: same trace id, nothing recorded, its
 * `end()` a no-op. The trace ids in logs and problems, and a `traceparent` sent on, are unchanged.
 */
class UnsampledFastPathTracer implements Tracer {
  private readonly tracer: Tracer;

  constructor(tracer: Tracer) {
    this.tracer = tracer;
  }

  startSpan(name: string, options?: SpanOptions, ctx: Context = context.active()): Span {
    if (options?.root) return this.tracer.startSpan(name, options, contextForRoot(ctx));
    return unsampledParent(trace.getSpan(ctx), options) ?? this.tracer.startSpan(name, options, ctx);
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: [F] | [SpanOptions, F] | [SpanOptions, Context, F]): ReturnType<F> {
    const fn = args[args.length - 1] as (span: Span) => ReturnType<F>;
    const options = args.length > 1 ? (args[0] as SpanOptions) : undefined;
    const active = args.length > 2 ? (args[1] as Context) : context.active();
    const ctx = options?.root ? contextForRoot(active) : active;
    const parent = unsampledParent(trace.getSpan(ctx), options);
    if (parent === undefined) return this.tracer.startActiveSpan(name, options ?? {}, ctx, fn);
    return ctx === context.active() ? fn(parent) : context.with(ctx, fn, undefined, parent);
  }
}

/** A provider that can send the spans it has not exported yet (the SDK's can). */
export interface FlushableTracerProvider extends TracerProvider {
  forceFlush?(): Promise<void>;
}

/**
 * `provider`'s tracers, each with the fast path in front, made once per name, version and schema
 * (as the SDK keeps its own): Prisma asks for its tracer at every operation. `forceFlush` still
 * reaches the SDK's provider through the global one.
 */
export function withUnsampledFastPath(provider: FlushableTracerProvider): FlushableTracerProvider {
  const tracers = new Map<string, Tracer>();
  return {
    forceFlush: async () => provider.forceFlush?.(),
    getTracer: (name, version, options) => {
      const key = `${name}@${version ?? ""}:${options?.schemaUrl ?? ""}`;
      let tracer = tracers.get(key);
      if (tracer === undefined) {
        tracer = new UnsampledFastPathTracer(provider.getTracer(name, version, options));
        tracers.set(key, tracer);
      }
      return tracer;
    },
  };
}

/**
 * Puts the fast path in front of the registered SDK's tracers. Call it right after the SDK has
 * registered itself and before anything starts a span: instrumentations reach their tracer
 * through the global provider, which hands out the delegate's.
 */
export function skipWorkForUnsampledSpans(): void {
  const global = trace.getTracerProvider();
  if (!(global instanceof ProxyTracerProvider)) throw new Error("the global tracer provider is not OpenTelemetry's proxy: cannot add the fast path");
  global.setDelegate(withUnsampledFastPath(global.getDelegate()));
}
