import { setTimeout as sleep } from "node:timers/promises";
import { context, ROOT_CONTEXT, trace, TraceFlags, type Context, type Span } from "@opentelemetry/api";
import { isTracingSuppressed } from "@opentelemetry/core";
import { node, tracing } from "@opentelemetry/sdk-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnrecordedContextManager } from "./unrecorded-context.js";
import { withUnsampledFastPath } from "./unsampled-spans.js";

const { AlwaysOnSampler, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor } = tracing;

// Roots are always recorded, so a span that escaped its unrecorded request as a root of its own
// (Prisma's operation, with no parent in sight) would be exported.
const exporter = new InMemorySpanExporter();
const provider = new node.NodeTracerProvider({
  sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const tracer = withUnsampledFastPath(provider).getTracer("test");

/** The names of the spans exported so far (the processor exports a span a few microtasks after its end). */
async function exported(): Promise<string[]> {
  await provider.forceFlush();
  return exporter.getFinishedSpans().map((span) => span.name);
}

beforeAll(() => {
  // Test files share a process: this file's SDK is the global one while it runs.
  trace.disable();
  context.disable();
  provider.register({ contextManager: new UnrecordedContextManager() });
});
afterAll(() => {
  trace.disable();
  context.disable();
});

/** A caller's `traceparent`: sampled or not. */
const callerContext = (sampled: boolean): Context =>
  trace.setSpanContext(ROOT_CONTEXT, {
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });

/** As @fastify/otel runs a request: its span started under the caller's context, then entered. */
function request<T>(sampled: boolean, work: (span: Span) => T): T {
  const span = tracer.startSpan("request", {}, callerContext(sampled));
  try {
    return context.with(trace.setSpan(callerContext(sampled), span), () => work(span));
  } finally {
    span.end();
  }
}

/** As Prisma runs an operation, and pg (requireParentSpan) decides whether to trace a statement. */
async function databaseWork(): Promise<{ pgTraces: boolean; operation: Span }> {
  return tracer.startActiveSpan("prisma:client:operation", async (operation) => {
    await sleep(1);
    const pgTraces = trace.getSpan(context.active()) !== undefined;
    if (pgTraces) tracer.startSpan("pg.query").end();
    operation.end();
    return { pgTraces, operation };
  });
}

describe("a request whose trace is not recorded", () => {
  it("runs without a span and with tracing suppressed, through every await: nothing under it is made or exported", async () => {
    exporter.reset();
    const seen = await request(false, async (span) => {
      expect(span.isRecording()).toBe(false);
      await sleep(1);
      const active = context.active();
      const work = await databaseWork();
      return { span, active, work, after: context.active() };
    });
    expect(trace.getSpan(seen.active)).toBeUndefined();
    expect(isTracingSuppressed(seen.active)).toBe(true);
    expect(seen.after).toBe(seen.active);
    expect(seen.work.pgTraces).toBe(false);
    expect(seen.work.operation.isRecording()).toBe(false);
    // Its trace id is still the request span's, the caller's.
    expect(seen.span.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(await exported()).toEqual([]);
    // Outside it, nothing is left behind.
    expect(context.active()).toBe(ROOT_CONTEXT);
  });

  it("a span asked to be a root under it still starts a trace of its own", async () => {
    exporter.reset();
    const job = request(false, () => tracer.startSpan("job", { root: true }));
    const activeJob = request(false, () => tracer.startActiveSpan("job", { root: true }, (span) => span));
    for (const span of [job, activeJob]) {
      expect(span.isRecording()).toBe(true);
      expect(span.spanContext().traceId).not.toBe("0af7651916cd43dd8448eb211c80319c");
      span.end();
    }
    expect(await exported()).toEqual(["job", "job"]);
  });
});

describe("a recorded request", () => {
  it("keeps its span active through every await, and its spans nest as before", async () => {
    exporter.reset();
    const seen = await request(true, async (span) => {
      await sleep(1);
      const active = trace.getSpan(context.active());
      const work = await databaseWork();
      return { span, active, work };
    });
    expect(seen.active).toBe(seen.span);
    expect(seen.work.pgTraces).toBe(true);
    expect(await exported()).toEqual(["request", "pg.query", "prisma:client:operation"]);
    const spans = exporter.getFinishedSpans();
    const [requestSpan, query, operation] = spans;
    expect(query!.parentSpanContext?.spanId).toBe(operation!.spanContext().spanId);
    expect(operation!.parentSpanContext?.spanId).toBe(requestSpan!.spanContext().spanId);
    expect(requestSpan!.parentSpanContext?.spanId).toBe("b7ad6b7169203331");
    expect(new Set(spans.map((span) => span.spanContext().traceId))).toEqual(new Set(["0af7651916cd43dd8448eb211c80319c"]));
  });

  it("a caller's context entered as it is (a remote span, not recorded here) stays as it is", () => {
    const remote = callerContext(false);
    expect(context.with(remote, () => context.active())).toBe(remote);
  });

  it("a function run in a context gets its this and arguments", () => {
    const self = { base: 40 };
    const add = function (this: typeof self, a: number, b: number) {
      return this.base + a + b;
    };
    expect(context.with(context.active(), add, self, 1, 1)).toBe(42);
    expect(request(false, () => context.with(context.active(), add, self, 1, 1))).toBe(42);
  });
});
