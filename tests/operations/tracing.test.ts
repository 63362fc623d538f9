// Traces as an operator receives them: the service runs as its own process (started as `make run`
// starts it, src/instrumentation.ts first) with OTLP pointed at a receiver in this test, an HTTP
// server taking OTLP/HTTP JSON as a collector would. One order placed with a client's
// `traceparent` must arrive as one trace under the client's trace id: the request, its handler,
// Prisma's transaction and the SQL statements, on the embedded database (PGlite half) or PostgreSQL.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent, createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN } from "../../support/admin.js";
import { testDatabaseKind } from "../helpers/database-setup.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { send } from "../helpers/http-client.js";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.js";
import { startNginx } from "../../support/nginx.js";

/** Production refuses the development admin's password: this start has one of its own. */
const ADMIN_IN_PRODUCTION = { name: ADMIN.name, password: randomBytes(18).toString("base64url") };

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  scope: string;
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;

interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { scope?: { name?: string }; spans?: (Omit<ReceivedSpan, "attributes" | "scope"> & { attributes?: OtlpAttribute[] })[] }[];
  }[];
}

const attributesOf = (list: OtlpAttribute[] = []) => Object.fromEntries(list.map(({ key, value }) => [key, Object.values(value)[0]]));

/** A collector's OTLP/HTTP traces endpoint (JSON encoding): every span exported to it, and the exporting service's name. */
async function startReceiver(): Promise<{ server: Server; url: string; spans: ReceivedSpan[]; services: Set<unknown> }> {
  const spans: ReceivedSpan[] = [];
  const services = new Set<unknown>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      if (request.method !== "POST" || request.url !== "/v1/traces" || !String(request.headers["content-type"]).startsWith("application/json")) {
        response.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString()) as OtlpExport;
      for (const resourceSpans of body.resourceSpans ?? []) {
        services.add(attributesOf(resourceSpans.resource?.attributes)["service.name"]);
        for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
          for (const span of scopeSpans.spans ?? []) spans.push({ ...span, attributes: attributesOf(span.attributes), scope: scopeSpans.scope?.name ?? "" });
        }
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, services };
}

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let service: ServerProcess;
let db: TestDatabase | undefined;
const dataDirs: string[] = [];

/** The service as `make run` starts it, exporting to the receiver; `env` adds to or changes its environment. */
async function startTracedService(env: Record<string, string> = {}): Promise<ServerProcess> {
  let database: Record<string, string>;
  if (db) database = { DATABASE_URL: db.url };
  else {
    const dataDir = await mkdtemp(join(tmpdir(), "order-service-tracing-"));
    dataDirs.push(dataDir);
    database = { DATABASE_URL: "", DATA_DIR: dataDir };
  }
  return startServerProcess({
    ...database,
    NODE_ENV: "production",
    JWT_SECRET: randomBytes(32).toString("hex"),
    ADMIN_PASSWORD: ADMIN_IN_PRODUCTION.password,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    // Sent within a tenth of a second, so that the test waits no longer than that.
    OTEL_BSP_SCHEDULE_DELAY: "100",
    ...env,
  });
}

beforeAll(async () => {
  receiver = await startReceiver();
  if (testDatabaseKind() === "postgres") db = await createTestDatabase();
  service = await startTracedService();
}, 120_000);
afterAll(async () => {
  service?.child.kill("SIGKILL");
  await service?.exited;
  receiver?.server.close();
  await db?.close();
  for (const dataDir of dataDirs) await rm(dataDir, { recursive: true, force: true });
});

/** The spans of `traceId` once `ready` holds for them (the exporter sends in batches), or what arrived after 10 s. */
async function spansOf(traceId: string, ready: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const spans = receiver.spans.filter((span) => span.traceId === traceId);
    if (ready(spans) || Date.now() > deadline) return spans;
    await sleep(50);
  }
}

const newTraceparent = () => {
  const traceId = randomBytes(16).toString("hex");
  return { traceId, traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` };
};

const logLines = (of: ServerProcess = service) =>
  of
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe("traces exported over OTLP", () => {
  it("one order placed with a client's traceparent is one trace: request, handler, transaction and SQL, under the client's trace id", async () => {
    const login = await send(service.baseUrl, { method: "POST", path: "/api/token/", body: ADMIN_IN_PRODUCTION });
    expect(login.statusCode).toBe(200);
    const admin = login.json<{ access: string }>().access;
    const product = await send(service.baseUrl, {
      method: "POST",
      path: "/api/product/",
      token: admin,
      body: { name: `traced-${randomUUID().slice(0, 8)}`, price: "4.50", stock: 10 },
    });
    expect(product.statusCode).toBe(201);
    const productId = product.json<{ id: number }>().id;

    const { traceId, traceparent } = newTraceparent();
    const clientSpanId = traceparent.split("-")[2];
    const order = await send(service.baseUrl, {
      method: "POST",
      path: "/api/order/",
      token: admin,
      headers: { traceparent, "idempotency-key": randomUUID() },
      body: { products: [{ id: productId, quantity: 3 }] },
    });
    expect(order.statusCode, order.body).toBe(201);
    expect(order.json()).toMatchObject({ items: [{ product_id: productId, quantity: 3, unit_price: "4.500" }], total: "13.500" });

    const statementOf = (span: ReceivedSpan) => String(span.attributes["db.statement"] ?? span.attributes["db.query.text"] ?? "");
    const isSql = (span: ReceivedSpan) => span.scope === "@opentelemetry/instrumentation-pg" && span.kind === SPAN_KIND_CLIENT;
    // The request's span ends after everything within it; the COMMIT is the transaction's last statement.
    const spans = await spansOf(
      traceId,
      (received) => received.some((span) => span.kind === SPAN_KIND_SERVER) && received.some((span) => isSql(span) && /^\s*COMMIT/i.test(statementOf(span))),
    );
    expect(receiver.services).toEqual(new Set(["order-service"]));
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    const ancestors = (span: ReceivedSpan): ReceivedSpan[] => {
      const parent = span.parentSpanId ? byId.get(span.parentSpanId) : undefined;
      return parent ? [parent, ...ancestors(parent)] : [];
    };

    // The request: a server span, child of the client's span, named by its route.
    const request = spans.filter((span) => span.kind === SPAN_KIND_SERVER);
    expect(request.map((span) => span.scope)).toEqual(["@fastify/otel"]);
    expect(request[0]).toMatchObject({
      parentSpanId: clientSpanId,
      attributes: { "http.route": "/api/order/", "http.request.method": "POST", "http.response.status_code": 201 },
    });
    const [requestSpan] = request as [ReceivedSpan];
    // Every other span of the trace descends from it: nothing is left outside the request.
    for (const span of spans) if (span !== requestSpan) expect(ancestors(span), span.name).toContain(requestSpan);

    // The handler, Prisma's transaction within it, and the SQL statements within the transaction.
    const handler = spans.find((span) => span.name.startsWith("handler - "));
    expect(handler, spans.map((span) => span.name).join(", ")).toBeDefined();
    expect(handler).toMatchObject({
      scope: "@fastify/otel",
      parentSpanId: requestSpan.spanId,
      attributes: { "fastify.type": "request-handler", "http.route": "/api/order/" },
    });
    const transaction = spans.find((span) => span.name === "prisma:client:transaction");
    expect(transaction, spans.map((span) => span.name).join(", ")).toBeDefined();
    expect(ancestors(transaction!)).toContain(handler);
    const sql = spans.filter(isSql);
    const statements = sql.map(statementOf);
    expect(statements.some((text) => /^\s*BEGIN/i.test(text))).toBe(true);
    expect(statements.some((text) => /INSERT INTO\s+"?orders"?/i.test(text))).toBe(true);
    expect(statements.some((text) => /^\s*COMMIT/i.test(text))).toBe(true);
    for (const span of sql) expect(ancestors(span)).toContain(transaction);
    // Each statement is one span, pg's: Prisma's db_query span repeated its text.
    expect(spans.filter((span) => !isSql(span) && statementOf(span) !== "").map((span) => span.name)).toEqual([]);

    // The request's log lines carry the same trace id beside its request id.
    const requestId = order.headers["x-request-id"];
    const lines = logLines().filter((line) => line.request_id === requestId);
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(["incoming request", "request completed"]));
    for (const line of lines) expect(line.trace_id, JSON.stringify(line)).toBe(traceId);
  });

  it("starts without a warning from the module hook, which wraps only the modules instrumented", () => {
    // Wrapping every module of the service, it warned that it failed to wrap the generated Prisma client.
    expect(service.output()).not.toMatch(/import-in-the-middle|failed to wrap/);
  });

  it("a problem document names the trace beside the request id, and a request without traceparent starts its own trace", async () => {
    const { traceId, traceparent } = newTraceparent();
    const refused = await send(service.baseUrl, { method: "POST", path: "/api/order/", headers: { traceparent }, body: { products: [] } });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ code: "unauthorized", request_id: refused.headers["x-request-id"], trace_id: traceId });

    const fresh = await send(service.baseUrl, { method: "GET", path: "/api/no-such-route" });
    expect(fresh.statusCode).toBe(404);
    const ownTraceId = fresh.json<{ trace_id: string }>().trace_id;
    expect(ownTraceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ownTraceId).not.toBe(traceId);
    const spans = await spansOf(ownTraceId, (received) => received.some((span) => span.kind === SPAN_KIND_SERVER));
    const request = spans.filter((span) => span.kind === SPAN_KIND_SERVER);
    expect(request.map((span) => [span.scope, span.parentSpanId ?? ""])).toEqual([["@fastify/otel", ""]]);
  });

  it("a request the caller did not sample exports nothing, yet is served in full and names its trace in logs and problems", async () => {
    const login = await send(service.baseUrl, { method: "POST", path: "/api/token/", body: ADMIN_IN_PRODUCTION });
    const admin = login.json<{ access: string }>().access;
    const { traceId } = newTraceparent();
    const traceparent = `00-${traceId}-${randomBytes(8).toString("hex")}-00`;
    const refused = await send(service.baseUrl, { method: "POST", path: "/api/order/", token: admin, headers: { traceparent }, body: { products: [] } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ request_id: refused.headers["x-request-id"], trace_id: traceId });
    const listed = await send(service.baseUrl, { method: "GET", path: "/api/order/", token: admin, headers: { traceparent } });
    expect(listed.statusCode).toBe(200);
    expect(listed.json()).toMatchObject({ count: expect.any(Number), results: expect.any(Array) });

    // A sampled request sent afterwards is exported; by then the unsampled ones' spans would have been too.
    const sampled = newTraceparent();
    await send(service.baseUrl, { method: "GET", path: "/api/order/", token: admin, headers: { traceparent: sampled.traceparent } });
    expect(await spansOf(sampled.traceId, (received) => received.some((span) => span.kind === SPAN_KIND_SERVER))).not.toEqual([]);
    expect(receiver.spans.filter((span) => span.traceId === traceId)).toEqual([]);
    const lines = logLines().filter((line) => line.request_id === refused.headers["x-request-id"] || line.request_id === listed.headers["x-request-id"]);
    expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(["incoming request", "request completed"]));
    for (const line of lines) expect(line.trace_id, JSON.stringify(line)).toBe(traceId);
  });

  it("requests on one kept-alive connection are traces of their own, whatever the one before was", async () => {
    // One connection, reused: a context left behind by one request must not become the next one's.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ask = (headers: Record<string, string>) =>
      new Promise<{ traceId?: string; socket: unknown }>((resolve, reject) => {
        const req = request(new URL("/api/no-such-route", service.baseUrl), { agent, headers }, (response) => {
          let body = "";
          response.on("data", (chunk: Buffer) => (body += chunk));
          response.on("end", () => resolve({ traceId: JSON.parse(body).trace_id, socket: req.socket }));
        });
        req.on("error", reject).end();
      });
    try {
      const unsampled = newTraceparent();
      const sampled = newTraceparent();
      const answers = [
        await ask({ traceparent: `00-${unsampled.traceId}-${randomBytes(8).toString("hex")}-00` }),
        await ask({}),
        await ask({ traceparent: sampled.traceparent }),
        await ask({}),
      ];
      expect(new Set(answers.map((answer) => answer.socket)).size).toBe(1);
      const [first, second, third, fourth] = answers.map((answer) => answer.traceId);
      expect(first).toBe(unsampled.traceId);
      expect(third).toBe(sampled.traceId);
      for (const own of [second, fourth]) expect(own).toMatch(/^(?!0+$)[0-9a-f]{32}$/);
      expect(new Set([first, second, third, fourth]).size).toBe(4);
      // The sampled one's request span is the client's child, not a later or earlier request's.
      const spans = await spansOf(sampled.traceId, (received) => received.some((span) => span.kind === SPAN_KIND_SERVER));
      const requests = spans.filter((span) => span.kind === SPAN_KIND_SERVER);
      expect(requests.map((span) => span.parentSpanId)).toEqual([sampled.traceparent.split("-")[2]]);
    } finally {
      agent.destroy();
    }
  });

  it("behind nginx (ops/nginx), a client's traceparent goes through, and nginx starts the trace of a request without one", async () => {
    const nginx = await startNginx([new URL(service.baseUrl).host]);
    try {
      const { traceId, traceparent } = newTraceparent();
      const continued = await send(nginx.baseUrl, { method: "GET", path: "/api/order/", headers: { traceparent } });
      expect(continued.statusCode).toBe(401);
      expect(continued.json().trace_id).toBe(traceId);

      const started = await send(nginx.baseUrl, { method: "GET", path: "/api/order/", headers: { traceparent: "not-a-traceparent" } });
      expect(started.statusCode).toBe(401);
      const startedTraceId = started.json<{ trace_id: string }>().trace_id;
      expect(startedTraceId).toMatch(/^[0-9a-f]{32}$/);
      expect(startedTraceId).not.toBe(traceId);

      // nginx's access line names the same trace as the service's answer, for each request. Two
      // workers write the log after answering, so the lines may come in either order.
      const deadline = Date.now() + 5_000;
      let lines: Record<string, unknown>[] = [];
      while ((lines = await nginx.accessLog()).length < 2 && Date.now() < deadline) await sleep(50);
      const byRequestId = (pairs: unknown[][]) => pairs.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      expect(byRequestId(lines.map((line) => [line.request_id, line.trace_id]))).toEqual(
        byRequestId([
          [continued.headers["x-request-id"], traceId],
          [started.headers["x-request-id"], startedTraceId],
        ]),
      );
    } finally {
      await nginx.stop();
    }
  });
});

describe("sampling a share of the traces (OTEL_TRACES_SAMPLER=parentbased_traceidratio)", () => {
  const RATIO = 0.5;
  let sampled: ServerProcess;
  beforeAll(async () => {
    sampled = await startTracedService({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: String(RATIO) });
  }, 120_000);
  afterAll(async () => {
    sampled?.child.kill("SIGKILL");
    await sampled?.exited;
  });

  /** Waits until a request sent with a sampled traceparent has been exported: every span ended before it has been too. */
  async function allExported(): Promise<void> {
    const marker = newTraceparent();
    await send(sampled.baseUrl, { method: "GET", path: "/api/no-such-route", headers: { traceparent: marker.traceparent } });
    expect(await spansOf(marker.traceId, (received) => received.some((span) => span.kind === SPAN_KIND_SERVER))).not.toEqual([]);
  }

  it("records the ratio of the requests that start a trace here, deciding on the trace id logs and problems carry", async () => {
    const answers = [];
    for (let i = 0; i < 40; i++) answers.push(await send(sampled.baseUrl, { method: "GET", path: `/api/no-such-route-${i}` }));
    await allExported();

    const traceIds = answers.map((answer) => {
      expect(answer.statusCode).toBe(404);
      return answer.json<{ trace_id: string }>().trace_id;
    });
    for (const traceId of traceIds) expect(traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
    expect(new Set(traceIds).size).toBe(traceIds.length);
    const recorded = traceIds.filter((traceId) => receiver.spans.some((span) => span.traceId === traceId && span.kind === SPAN_KIND_SERVER));
    // The SDK's TraceIdRatioBased rule on each trace id: what any service sampling at this ratio decides for it.
    const { TraceIdRatioBasedSampler, SamplingDecision } = (await import("@opentelemetry/sdk-node")).tracing;
    const ratioSampler = new TraceIdRatioBasedSampler(RATIO);
    const expected = traceIds.filter((traceId) => ratioSampler.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED);
    expect(recorded).toEqual(expected);
    expect(recorded.length).toBeGreaterThan(0);
    expect(recorded.length).toBeLessThan(traceIds.length);

    // Recorded or not, each request's log lines name its trace.
    const lines = logLines(sampled);
    for (const answer of answers) {
      const own = lines.filter((line) => line.request_id === answer.headers["x-request-id"]);
      expect(own.map((line) => line.msg)).toEqual(expect.arrayContaining(["incoming request", "request completed"]));
      for (const line of own) expect(line.trace_id, JSON.stringify(line)).toBe(answer.json<{ trace_id: string }>().trace_id);
    }
  });

  it("follows the caller's decision whatever the ratio: a sampled traceparent is recorded, an unsampled one is not", async () => {
    const callers = Array.from({ length: 6 }, (_, i) => ({ ...newTraceparent(), sampled: i % 2 === 0 }));
    for (const caller of callers) {
      const header = caller.sampled ? caller.traceparent : caller.traceparent.replace(/-01$/, "-00");
      const answer = await send(sampled.baseUrl, { method: "GET", path: "/api/no-such-route", headers: { traceparent: header } });
      expect(answer.json()).toMatchObject({ trace_id: caller.traceId, request_id: answer.headers["x-request-id"] });
    }
    await allExported();
    for (const caller of callers) {
      const spans = receiver.spans.filter((span) => span.traceId === caller.traceId);
      expect(spans.length > 0, caller.traceparent).toBe(caller.sampled);
      const requests = spans.filter((span) => span.kind === SPAN_KIND_SERVER);
      expect(
        requests.map((span) => span.parentSpanId),
        caller.traceparent,
      ).toEqual(caller.sampled ? [caller.traceparent.split("-")[2]] : []);
    }
  });
});
