import { context, type Context } from "@opentelemetry/api";
import { UNRECORDED_CONTEXT } from "./unrecorded-context.js";

/** What Prisma's client asks @prisma/instrumentation for at each operation (its tracing helper). */
interface PrismaTracingHelper {
  isEnabled(): boolean;
  getTraceParent(context?: Context): string;
  dispatchEngineSpans(...args: unknown[]): void;
  getActiveContext(): Context | undefined;
  runInChildSpan(options: unknown, callback: (...args: unknown[]) => unknown): unknown;
}

/** Where @prisma/instrumentation leaves its helper; Prisma's client looks it up there at every call. */
const HELPER_GLOBALS = ["V7_PRISMA_INSTRUMENTATION", "PRISMA_INSTRUMENTATION"] as const;

/** `helper`, except that in an unrecorded request it runs each step as Prisma does with tracing off. */
export function skippingUnrecorded(helper: PrismaTracingHelper): PrismaTracingHelper {
  return {
    isEnabled: () => helper.isEnabled(),
    getTraceParent: (ctx) => helper.getTraceParent(ctx),
    dispatchEngineSpans: (...args) => helper.dispatchEngineSpans(...args),
    getActiveContext: () => helper.getActiveContext(),
    runInChildSpan: (options, callback) => (context.active() === UNRECORDED_CONTEXT ? callback() : helper.runInChildSpan(options, callback)),
  };
}

/**
 * Prisma's operations in a request that is not recorded run as with tracing off (the helper's
 * callback, nothing else): through the SDK each of them (operation, serialisation, transaction)
 * asked for a tracer, made a non-recording span and entered a context for nothing. Call it after
 * the SDK has started (PrismaInstrumentation.enable sets the helper).
 */
export function skipPrismaSpansOfUnrecordedRequests(): void {
  const holders = globalThis as unknown as Record<string, { helper?: PrismaTracingHelper } | undefined>;
  const holder = HELPER_GLOBALS.map((key) => holders[key]).find((candidate) => candidate?.helper !== undefined);
  if (holder?.helper === undefined) throw new Error("@prisma/instrumentation's tracing helper is not set: cannot skip the spans of unrecorded requests");
  // Both globals hold the same object: replacing its helper serves either lookup.
  holder.helper = skippingUnrecorded(holder.helper);
}
