import type { IncomingHttpHeaders } from "node:http";
import { context, isSpanContextValid, propagation, ROOT_CONTEXT, SpanKind, trace, type Context, type SpanContext } from "@opentelemetry/api";
import { parseTraceParent } from "@opentelemetry/core";
import type { tracing } from "@opentelemetry/sdk-node";

/** tracing.SamplingDecision.NOT_RECORD (the enum lives in the SDK, which this module does not load). */
const NOT_RECORD = 0;

/** The caller's span a request continues, as the configured propagators read it from its headers. */
export type ParentOf = (headers: IncomingHttpHeaders) => SpanContext | undefined;

/**
 * The W3C `traceparent` header's span, read as OpenTelemetry's W3C propagator reads it (its own
 * parser), without making the context, trace state and baggage that extracting would: that is for
 * a request that is recorded, and @fastify/otel extracts it then.
 */
export const traceparentOf: ParentOf = (headers) => {
  const header = headers.traceparent;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const parent = parseTraceParent(value);
  return parent === null ? undefined : { ...parent, isRemote: true };
};

/** The parent through the propagators the SDK has registered (OTEL_PROPAGATORS other than W3C's). */
export const propagatedParentOf: ParentOf = (headers) => {
  const parent = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers));
  return parent !== undefined && isSpanContextValid(parent) ? parent : undefined;
};

/** Whether OTEL_PROPAGATORS names W3C's trace context as the only carrier of a parent span (the default). */
export function propagatesW3COnly(env: NodeJS.ProcessEnv): boolean {
  const names = (env.OTEL_PROPAGATORS ?? "tracecontext,baggage")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== "" && name !== "baggage");
  return names.length === 1 && names[0] === "tracecontext";
}

/** A request's trace: its id (the caller's, or a new one) and whether its spans are recorded. */
export interface RequestTrace {
  traceId: string;
  recorded: boolean;
  /** The caller's span, when the request continues a trace. */
  parent: SpanContext | undefined;
}

/**
 * Decides each request's sampling before any span is made, with the SDK's own sampler (the one
 * OTEL_TRACES_SAMPLER configures) and the same inputs the SDK would give it for the request's span:
 * the caller's span when the request carries one, otherwise a new trace id (so `traceidratio`
 * decides on the id the trace will have). A recorded request then gets @fastify/otel's span, made
 * by the SDK with that same trace id (`idGenerator` hands it out), so the SDK decides alike and the
 * trace is exactly as complete as without this. A request that is not recorded makes no span at
 * all: @fastify/otel skips it (`skipsThisRequest`, its ignorePaths) and it runs in `unrecorded`, a
 * context with tracing suppressed; its trace id still goes to its logs and problem documents.
 */
export class RequestSampler {
  private readonly sampler: tracing.Sampler;
  private readonly ids: tracing.IdGenerator;
  private readonly parentOf: ParentOf;
  private readonly unrecorded: Context;
  /** The trace id decided for a recorded request without a parent, until the SDK takes it. */
  private decidedTraceId: string | undefined;
  /** Set while the request that was just decided unrecorded reaches @fastify/otel's onRequest hook. */
  private skipping = false;

  constructor(options: { sampler: tracing.Sampler; ids: tracing.IdGenerator; parentOf: ParentOf; unrecorded: Context }) {
    this.sampler = options.sampler;
    this.ids = options.ids;
    this.parentOf = options.parentOf;
    this.unrecorded = options.unrecorded;
  }

  /** The SDK's id generator: a trace id decided here first, random ones otherwise. */
  readonly idGenerator: tracing.IdGenerator = {
    generateTraceId: () => {
      const decided = this.decidedTraceId;
      if (decided === undefined) return this.ids.generateTraceId();
      this.decidedTraceId = undefined;
      return decided;
    },
    generateSpanId: () => this.ids.generateSpanId(),
  };

  decide(headers: IncomingHttpHeaders): RequestTrace {
    const parent = this.parentOf(headers);
    const traceId = parent?.traceId ?? this.ids.generateTraceId();
    const parentContext = parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent);
    const { decision } = this.sampler.shouldSample(parentContext, traceId, "request", SpanKind.SERVER, {}, []);
    return { traceId, recorded: decision !== NOT_RECORD, parent };
  }

  /**
   * Runs the rest of the request's onRequest hooks, @fastify/otel's first: a recorded request gets
   * its span (with the decided trace id), one that is not recorded gets none and runs unrecorded.
   */
  proceed(decided: RequestTrace, next: () => void): void {
    if (decided.recorded) {
      if (decided.parent === undefined) this.decidedTraceId = decided.traceId;
      try {
        next();
      } finally {
        this.decidedTraceId = undefined;
      }
      return;
    }
    this.skipping = true;
    try {
      context.with(this.unrecorded, next);
    } finally {
      this.skipping = false;
    }
  }

  /** @fastify/otel's ignorePaths, asked by its onRequest hook right after `proceed`: once true for an unrecorded request. */
  skipsThisRequest(): boolean {
    if (!this.skipping) return false;
    this.skipping = false;
    return true;
  }
}
