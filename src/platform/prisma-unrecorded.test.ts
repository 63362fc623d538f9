import { context, trace } from "@opentelemetry/api";
import { node, tracing } from "@opentelemetry/sdk-node";
import { PrismaInstrumentation } from "@prisma/instrumentation";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { skipPrismaSpansOfUnrecordedRequests } from "./prisma-unrecorded.js";
import { UNRECORDED_CONTEXT, UnrecordedContextManager } from "./unrecorded-context.js";

const { AlwaysOnSampler, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor } = tracing;

const exporter = new InMemorySpanExporter();
const provider = new node.NodeTracerProvider({
  sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const instrumentation = new PrismaInstrumentation();

interface Helper {
  runInChildSpan(options: { name: string }, callback: (...args: unknown[]) => unknown): unknown;
}
/** The helper Prisma's client calls at each operation, where it finds it. */
const prismaHelper = () => (globalThis as unknown as { V7_PRISMA_INSTRUMENTATION: { helper: Helper } }).V7_PRISMA_INSTRUMENTATION.helper;

beforeAll(() => {
  trace.disable();
  context.disable();
  provider.register({ contextManager: new UnrecordedContextManager() });
  instrumentation.enable();
  skipPrismaSpansOfUnrecordedRequests();
});
afterAll(() => {
  instrumentation.disable();
  trace.disable();
  context.disable();
});
beforeEach(() => exporter.reset());

describe("Prisma's tracing helper", () => {
  it("runs an operation of an unrecorded request as with tracing off: no span, the callback without arguments", async () => {
    const args = context.with(UNRECORDED_CONTEXT, () => prismaHelper().runInChildSpan({ name: "operation" }, (...received) => received));
    expect(args).toEqual([]);
    await provider.forceFlush();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it("still traces an operation elsewhere: a recorded request's, or one outside any request (a trace of its own)", async () => {
    const tracer = provider.getTracer("test");
    const request = tracer.startSpan("request");
    context.with(trace.setSpan(context.active(), request), () => prismaHelper().runInChildSpan({ name: "operation" }, () => undefined));
    request.end();
    prismaHelper().runInChildSpan({ name: "transaction" }, () => undefined);
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.name)).toEqual(["prisma:client:operation", "request", "prisma:client:transaction"]);
    expect(spans[0]?.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(spans[2]?.parentSpanContext).toBeUndefined();
  });
});
