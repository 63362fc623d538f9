import { context, ROOT_CONTEXT, trace, TraceFlags, type Span } from "@opentelemetry/api";
import { node, tracing } from "@opentelemetry/sdk-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withUnsampledFastPath } from "./unsampled-spans.js";

const { AlwaysOffSampler, AlwaysOnSampler, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor } = tracing;

/** A tracer of an SDK with `sampler`, the fast path in front, and what it exported. */
function tracerWith(sampler: tracing.Sampler) {
  const exporter = new InMemorySpanExporter();
  const provider = new node.NodeTracerProvider({ sampler, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { tracer: withUnsampledFastPath(provider).getTracer("test"), exported: () => exporter.getFinishedSpans().map((span) => span.name) };
}

const within = <T>(span: Span, work: () => T): T => context.with(trace.setSpan(context.active(), span), work);

beforeAll(() => {
  // The SDK's context manager (AsyncLocalStorage), as NodeSDK registers it. Test files share a
  // process: this file's is the global one while it runs.
  trace.disable();
  context.disable();
  new node.NodeTracerProvider().register();
});
afterAll(() => {
  trace.disable();
  context.disable();
});

describe("spans under a trace that is not recorded", () => {
  it("are the unsampled parent itself: no new span, the same trace id, nothing exported", async () => {
    const { tracer, exported } = tracerWith(new ParentBasedSampler({ root: new AlwaysOffSampler() }));
    const request = tracer.startSpan("request");
    expect(request.isRecording()).toBe(false);
    expect(request.spanContext().traceId).toMatch(/^(?!0+$)[0-9a-f]{32}$/);

    const query = within(request, () => tracer.startSpan("pg.query"));
    expect(query).toBe(request);
    const answer = await within(request, () =>
      tracer.startActiveSpan("prisma:client:operation", async (operation) => {
        expect(operation).toBe(request);
        // The span the callback runs under is still the request's.
        expect(trace.getActiveSpan()).toBe(request);
        return "rows";
      }),
    );
    expect(answer).toBe("rows");
    query.end();
    request.end();
    expect(exported()).toEqual([]);
  });

  it("a recorded trace's spans are made as usual, each with its own id under its parent", () => {
    const { tracer, exported } = tracerWith(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
    const request = tracer.startSpan("request");
    const query = within(request, () => tracer.startSpan("pg.query"));
    const operation = within(request, () => tracer.startActiveSpan("prisma:client:operation", (span) => span));
    expect(query).not.toBe(request);
    expect(operation).not.toBe(request);
    expect(query.spanContext()).toMatchObject({ traceId: request.spanContext().traceId, traceFlags: TraceFlags.SAMPLED });
    expect(query.spanContext().spanId).not.toBe(request.spanContext().spanId);
    for (const span of [operation, query, request]) span.end();
    expect(exported()).toEqual(["prisma:client:operation", "pg.query", "request"]);
  });

  it("under a recorded parent that has ended (it no longer records), spans are still recorded", () => {
    const { tracer, exported } = tracerWith(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
    const request = tracer.startSpan("request");
    request.end();
    expect(request.isRecording()).toBe(false);
    const late = within(request, () => tracer.startSpan("late write"));
    expect(late).not.toBe(request);
    expect(late.isRecording()).toBe(true);
    late.end();
    expect(exported()).toEqual(["request", "late write"]);
  });

  it("under a caller's unsampled traceparent, a sampler that ignores the parent still decides", () => {
    const { tracer, exported } = tracerWith(new AlwaysOnSampler());
    const remote = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      traceFlags: TraceFlags.NONE,
      isRemote: true,
    });
    const request = tracer.startSpan("request", {}, remote);
    expect(request.isRecording()).toBe(true);
    request.end();
    expect(exported()).toEqual(["request"]);
  });

  it("a span asked to be a root starts its own trace", () => {
    const { tracer } = tracerWith(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
    const unsampled = trace.wrapSpanContext({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.NONE });
    const job = within(unsampled, () => tracer.startSpan("job", { root: true }));
    expect(job.isRecording()).toBe(true);
    expect(job.spanContext().traceId).not.toBe("0af7651916cd43dd8448eb211c80319c");
    job.end();
  });
});

describe("the provider with the fast path in front", () => {
  it("flushes the SDK's spans not exported yet", async () => {
    const exporter = new InMemorySpanExporter();
    const sdkProvider = new node.NodeTracerProvider({
      sampler: new AlwaysOnSampler(),
      // Exported only when the queue is full, after a minute, or when flushed.
      spanProcessors: [new tracing.BatchSpanProcessor(exporter, { maxExportBatchSize: 1_000, scheduledDelayMillis: 60_000 })],
    });
    const provider = withUnsampledFastPath(sdkProvider);
    provider.getTracer("test").startSpan("pending").end();
    expect(exporter.getFinishedSpans()).toEqual([]);
    await provider.forceFlush?.();
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(["pending"]);
    await sdkProvider.shutdown();
  });
});
