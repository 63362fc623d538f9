import { FastifyOtelInstrumentation } from "@fastify/otel";
import { context, trace } from "@opentelemetry/api";
import { node, tracing } from "@opentelemetry/sdk-node";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { rememberRecordedRequest, traceHandlersOfRecordedRequests } from "./handler-spans.js";
import { UnrecordedContextManager } from "./unrecorded-context.js";

const { AlwaysOnSampler, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor } = tracing;

const exporter = new InMemorySpanExporter();
const provider = new node.NodeTracerProvider({
  sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
let app: FastifyInstance;
let ran: string[] = [];
let instrumentation: FastifyOtelInstrumentation;
let stopHandlerSpans: () => void;

beforeAll(async () => {
  // Test files share a process: this file's SDK is the global one while it runs.
  trace.disable();
  context.disable();
  provider.register({ contextManager: new UnrecordedContextManager() });
  // As src/platform/tracing.ts sets them up: @fastify/otel for the request's span, handler spans here.
  const isUntraced = ({ url }: { url: string }) => url === "/healthz";
  instrumentation = new FastifyOtelInstrumentation({
    registerOnInitialization: true,
    instrumentHooks: false,
    instrumentHandler: false,
    requestHook: rememberRecordedRequest,
    ignorePaths: isUntraced,
  });
  stopHandlerSpans = traceHandlersOfRecordedRequests(isUntraced);
  app = Fastify();
  app.get("/product/:id", async function getProduct(request) {
    ran.push("getProduct");
    // The handler's own work (Prisma, pg) runs under the handler's span.
    return { id: (request.params as { id: string }).id, span: trace.getActiveSpan()?.spanContext().spanId ?? null };
  });
  app.get("/broken", async function breakDown() {
    ran.push("breakDown");
    throw new Error("the database went away");
  });
  app.get("/plain", function answerPlainly(_request, reply) {
    ran.push("answerPlainly");
    reply.send("ok");
  });
  app.get("/healthz", async function probe() {
    ran.push("probe");
    return "ok";
  });
  await app.ready();
});
afterAll(async () => {
  // Fastify instances of the files after this one are neither traced nor wrapped.
  instrumentation.disable();
  stopHandlerSpans();
  await app.close();
  await provider.shutdown();
  trace.disable();
  context.disable();
});
beforeEach(() => {
  exporter.reset();
  ran = [];
});

const traceparent = (sampled: boolean) => `00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0${sampled ? 1 : 0}`;

async function spans() {
  await provider.forceFlush();
  return exporter.getFinishedSpans();
}

describe("handler spans", () => {
  it("a recorded request's handler runs in a span of its own under the request's, named and described as @fastify/otel does", async () => {
    const response = await app.inject({ url: "/product/7", headers: { traceparent: traceparent(true) } });
    expect(response.statusCode).toBe(200);
    const exported = await spans();
    const handler = exported.find((span) => span.name === "handler - getProduct");
    const request = exported.find((span) => span.name === "request");
    expect(handler, exported.map((span) => span.name).join()).toBeDefined();
    expect(handler!.instrumentationScope.name).toBe("@fastify/otel");
    expect(handler!.parentSpanContext?.spanId).toBe(request!.spanContext().spanId);
    expect(handler!.attributes).toMatchObject({
      "fastify.type": "request-handler",
      "http.route": "/product/:id",
      "hook.callback.name": "getProduct",
    });
    expect(response.json()).toEqual({ id: "7", span: handler!.spanContext().spanId });
    expect(ran).toEqual(["getProduct"]);
  });

  it("a handler that fails marks its span as failed, with the exception, and the error still reaches Fastify", async () => {
    const response = await app.inject({ url: "/broken", headers: { traceparent: traceparent(true) } });
    expect(response.statusCode).toBe(500);
    const handler = (await spans()).find((span) => span.name === "handler - breakDown");
    expect(handler?.status).toEqual({ code: 2, message: "the database went away" });
    expect(handler?.events.map((event) => event.name)).toEqual(["exception"]);
  });

  it("a handler that answers without a promise has its span ended when it returns", async () => {
    const response = await app.inject({ url: "/plain", headers: { traceparent: traceparent(true) } });
    expect(response.body).toBe("ok");
    expect((await spans()).map((span) => span.name)).toContain("handler - answerPlainly");
  });

  it("a request that is not recorded runs its handler with no span and exports nothing", async () => {
    const response = await app.inject({ url: "/product/8", headers: { traceparent: traceparent(false) } });
    expect(response.json()).toEqual({ id: "8", span: null });
    expect(ran).toEqual(["getProduct"]);
    expect(await spans()).toEqual([]);
  });

  it("an untraced route's handler is left as it is", async () => {
    const response = await app.inject({ url: "/healthz", headers: { traceparent: traceparent(true) } });
    expect(response.body).toBe("ok");
    expect((await spans()).map((span) => span.name)).toEqual([]);
  });
});
