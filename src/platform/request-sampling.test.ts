import { randomBytes } from "node:crypto";
import { context, propagation, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { isTracingSuppressed, W3CTraceContextPropagator } from "@opentelemetry/core";
import { node, tracing } from "@opentelemetry/sdk-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { propagatedParentOf, propagatesW3COnly, RequestSampler, traceparentOf, type RequestTrace } from "./request-sampling.js";
import { UNRECORDED_CONTEXT, UnrecordedContextManager } from "./unrecorded-context.js";

const { InMemorySpanExporter, ParentBasedSampler, RandomIdGenerator, SimpleSpanProcessor, TraceIdRatioBasedSampler, SamplingDecision } = tracing;

const RATIO = 0.25;
// As src/platform/tracing.ts sets it up: one sampler for the request sampler and the SDK, the
// request sampler's id generator in the SDK.
const sampler = new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(RATIO) });
const requestSampler = new RequestSampler({ sampler, ids: new RandomIdGenerator(), parentOf: traceparentOf, unrecorded: UNRECORDED_CONTEXT });
const exporter = new InMemorySpanExporter();
const provider = new node.NodeTracerProvider({ sampler, idGenerator: requestSampler.idGenerator, spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer("test");

beforeAll(() => {
  // Test files share a process: this file's SDK is the global one while it runs.
  trace.disable();
  context.disable();
  propagation.disable();
  provider.register({ contextManager: new UnrecordedContextManager(), propagator: new W3CTraceContextPropagator() });
});
afterAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});
beforeEach(() => exporter.reset());

const hex = (bytes: number) => randomBytes(bytes).toString("hex");
const traceparent = (traceId: string, sampled: boolean) => `00-${traceId}-${hex(8)}-${sampled ? "01" : "00"}`;

/** What the SDK's own ratio sampler says of a new trace with this id. */
const sdkRecords = (traceId: string) =>
  new TraceIdRatioBasedSampler(RATIO).shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;

/** As @fastify/otel's onRequest hook makes the request's span, right after the sampler let the request proceed. */
function runRequest(decided: RequestTrace, headers: Record<string, string>) {
  let seen: { span?: ReturnType<typeof tracer.startSpan>; skipped: boolean; active: ReturnType<typeof context.active> } | undefined;
  requestSampler.proceed(decided, () => {
    const skipped = requestSampler.skipsThisRequest();
    if (skipped) {
      seen = { skipped, active: context.active() };
      return;
    }
    const span = tracer.startSpan("request", {}, propagation.extract(context.active(), headers));
    span.end();
    seen = { span, skipped, active: context.active() };
  });
  return seen!;
}

describe("deciding a request's sampling before its span", () => {
  it("records a request whose caller sampled it, under the caller's trace", () => {
    const traceId = hex(16);
    const headers = { traceparent: traceparent(traceId, true) };
    const decided = requestSampler.decide(headers);
    expect(decided).toMatchObject({ traceId, recorded: true, parent: { traceId, isRemote: true } });
    const seen = runRequest(decided, headers);
    expect(seen.skipped).toBe(false);
    expect(seen.span?.spanContext().traceId).toBe(traceId);
    expect(exporter.getFinishedSpans().map((span) => span.spanContext().traceId)).toEqual([traceId]);
  });

  it("makes no span for a request its caller did not sample, and runs it with tracing suppressed; the trace id is the caller's", () => {
    const traceId = hex(16);
    const headers = { traceparent: traceparent(traceId, false) };
    const decided = requestSampler.decide(headers);
    expect(decided).toMatchObject({ traceId, recorded: false });
    const seen = runRequest(decided, headers);
    expect(seen.skipped).toBe(true);
    expect(seen.active).toBe(UNRECORDED_CONTEXT);
    expect(isTracingSuppressed(seen.active)).toBe(true);
    expect(exporter.getFinishedSpans()).toEqual([]);
    // Only the request decided unrecorded is skipped: the next question (another request) is answered no.
    expect(requestSampler.skipsThisRequest()).toBe(false);
    expect(context.active()).toBe(ROOT_CONTEXT);
  });

  it("without a traceparent, records the share the ratio says, deciding as the SDK does on the trace id the span then gets", () => {
    const decisions = Array.from({ length: 4000 }, () => requestSampler.decide({}));
    for (const decided of decisions) {
      expect(decided.traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
      expect(decided.recorded).toBe(sdkRecords(decided.traceId));
    }
    expect(new Set(decisions.map((decided) => decided.traceId)).size).toBe(decisions.length);
    const share = decisions.filter((decided) => decided.recorded).length / decisions.length;
    expect(share).toBeGreaterThan(RATIO - 0.04);
    expect(share).toBeLessThan(RATIO + 0.04);

    // A recorded one's span carries the decided trace id (so logs, problems and the backend agree);
    // the id generator hands it out once, then random ids again.
    const recorded = decisions.filter((decided) => decided.recorded).slice(0, 20);
    for (const decided of recorded) expect(runRequest(decided, {}).span?.spanContext().traceId).toBe(decided.traceId);
    expect(exporter.getFinishedSpans().map((span) => span.spanContext().traceId)).toEqual(recorded.map((decided) => decided.traceId));
    const later = provider.getTracer("test").startSpan("later");
    expect(recorded.map((decided) => decided.traceId)).not.toContain(later.spanContext().traceId);
    later.end();
  });

  it("treats a malformed traceparent as none, as OpenTelemetry's W3C propagator does", () => {
    const traceId = hex(16);
    for (const header of [
      `00-${traceId}-${hex(8)}-01-extra`, // version 00 has four parts
      `00-${"0".repeat(32)}-${hex(8)}-01`, // an all-zero trace id
      `ff-${traceId}-${hex(8)}-01`, // version ff is invalid
      `00-${traceId.toUpperCase()}-${hex(8)}-01`,
      "not-a-traceparent",
    ]) {
      const decided = requestSampler.decide({ traceparent: header });
      expect(decided.parent, header).toBeUndefined();
      expect(decided.traceId, header).not.toBe(traceId);
      expect(trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent: header })), header).toBeUndefined();
    }
    // A later version may carry more parts.
    expect(requestSampler.decide({ traceparent: `01-${traceId}-${hex(8)}-01-more` })).toMatchObject({ traceId, recorded: true });
  });

  it("reads the parent through the registered propagators when OTEL_PROPAGATORS names others than W3C's", () => {
    const traceId = hex(16);
    expect(propagatedParentOf({ traceparent: traceparent(traceId, false) })).toMatchObject({ traceId, traceFlags: 0, isRemote: true });
    expect(propagatedParentOf({})).toBeUndefined();
    expect(propagatesW3COnly({})).toBe(true);
    expect(propagatesW3COnly({ OTEL_PROPAGATORS: "tracecontext" })).toBe(true);
    expect(propagatesW3COnly({ OTEL_PROPAGATORS: " tracecontext , baggage " })).toBe(true);
    expect(propagatesW3COnly({ OTEL_PROPAGATORS: "tracecontext,b3" })).toBe(false);
    expect(propagatesW3COnly({ OTEL_PROPAGATORS: "none" })).toBe(false);
  });
});
