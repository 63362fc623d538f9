import { ROOT_CONTEXT, trace, TraceFlags, type Context, type Span } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { suppressTracing } from "@opentelemetry/core";

/**
 * What runs inside a trace that is not being recorded sees this context: no span, tracing
 * suppressed. pg's instrumentation (requireParentSpan) then skips a statement at its first check
 * instead of reading its text and wrapping its promise; Prisma's spans and any other come back from
 * the SDK as the shared no-op span at its first check. Nothing would have been recorded anyway.
 */
export const UNRECORDED_CONTEXT: Context = suppressTracing(ROOT_CONTEXT);

/** A span asked to be a root (`root: true`) starts its own trace from here, as from anywhere else. */
export const contextForRoot = (ctx: Context): Context => (ctx === UNRECORDED_CONTEXT ? ROOT_CONTEXT : ctx);

/**
 * A span of this process whose trace is not recorded: not recording and not sampled (a sampled
 * span that has ended stops recording, yet spans started under it are recorded). A span received
 * in a `traceparent` is remote: a sampler that ignores the parent may still record under it.
 */
export function isUnrecordedLocalSpan(span: Span | undefined): span is Span {
  if (span === undefined || span.isRecording()) return false;
  const { traceFlags, isRemote } = span.spanContext();
  return (traceFlags & TraceFlags.SAMPLED) === 0 && !isRemote;
}

/**
 * OpenTelemetry's AsyncLocalStorage context manager, except that a context whose span is an
 * unrecorded one of this process becomes UNRECORDED_CONTEXT, and entering the context already
 * active is a plain call. With sampling at 10 %, nine requests in ten are unrecorded: their request
 * span is entered once, and every span or callback bound under it after that costs a call, not a
 * new AsyncLocalStorage frame. Recorded traces are untouched, so a sampled trace stays complete.
 * The request's trace id is still its span's (request.opentelemetry().span), for logs and problems.
 */
export class UnrecordedContextManager extends AsyncLocalStorageContextManager {
  override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const target = isUnrecordedLocalSpan(trace.getSpan(ctx)) ? UNRECORDED_CONTEXT : ctx;
    if (target === this.active()) return fn.call(thisArg as ThisParameterType<F>, ...args);
    return super.with(target, fn, thisArg, ...args);
  }
}
