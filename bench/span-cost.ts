// npm run bench:span-cost — what the OpenTelemetry SDK itself costs for a traced product read,
// without the service: the three spans such a read makes (the request, its handler, its SQL
// statement, with the attributes @fastify/otel and pg's instrumentation give them, each entered as
// the active span the way they enter it) made in a loop by the Node SDK on its defaults (what
// src/platform/tracing.ts starts, without the instrumentations), batched and exported over OTLP
// (the SDK's default, protobuf over HTTP) to a receiver of the benchmark's that discards them;
// then the same spans batched but not exported; then no SDK at all (the API's no-op tracer). A
// new process per measurement, round after round; medians.
// This is the floor under tracing's cost at a sampling ratio: a sampled read pays at least this,
// whatever the service does around it (npm run bench:tracing-cpu measures the service).
// Env: BENCH_ROUNDS (default 5), BENCH_REQUESTS (per measurement, default 100000), BENCH_TRACING_RATIO
// (default 0.1), BENCH_READ_US (an untraced read's CPU time, e.g. bench:tracing-cpu's "off": the
// floor is also given as a share of it).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { NodeSDK, tracing } from "@opentelemetry/sdk-node";
import { main, onCleanup, step } from "./lib/main.js";
import { startOtlpSink } from "./lib/otlp-sink.js";
import { median, printTable, type Row } from "./lib/report.js";

const VARIANTS = {
  "3 spans, exported": "Node SDK, OTLP export",
  "3 spans, not exported": "Node SDK, batched then dropped",
  "no SDK": "the API's no-op tracer",
} as const;
type Variant = keyof typeof VARIANTS;

/** One product read's spans, shaped as the service's instrumentations make them. */
async function tracedRead(id: number): Promise<void> {
  const tracer = trace.getTracer("@fastify/otel");
  const request = tracer.startSpan("request", {
    kind: SpanKind.SERVER,
    attributes: { "service.name": "order-service", "http.request.method": "GET", "url.path": `/api/product/${id}`, "http.route": "/api/product/:id" },
  });
  await context.with(trace.setSpan(context.active(), request), async () => {
    const handler = tracer.startSpan("handler - getProduct", {
      attributes: {
        "service.name": "order-service",
        "hook.name": "order-service - route-handler",
        "fastify.type": "request-handler",
        "http.route": "/api/product/:id",
      },
    });
    await context.with(trace.setSpan(context.active(), handler), async () => {
      const statement = tracer.startSpan("SELECT order", {
        kind: SpanKind.CLIENT,
        attributes: {
          "db.system.name": "postgresql",
          "db.namespace": "order",
          "server.address": "127.0.0.1",
          "server.port": 5432,
          "db.query.text": "SELECT id, name, price::text, stock, version FROM products WHERE id = $1",
        },
      });
      await Promise.resolve();
      statement.end();
    });
    handler.end();
  });
  request.setAttribute("http.response.status_code", 200);
  request.end();
}

/** In a child process: the variant's CPU time per read, spans exported (or dropped) included. */
async function measureHere(variant: Variant, requests: number): Promise<number> {
  const discarding: tracing.SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
  const sdk =
    variant === "no SDK"
      ? undefined
      : new NodeSDK({ spanProcessors: variant === "3 spans, exported" ? undefined : [new tracing.BatchSpanProcessor(discarding)], instrumentations: [] });
  sdk?.start();
  const provider = trace.getTracerProvider() as { getDelegate?: () => { forceFlush?: () => Promise<void> } };
  const flush = () => provider.getDelegate?.().forceFlush?.() ?? Promise.resolve();
  // Reads arrive as requests do: the event loop turns between them, so the batch is sent as it fills.
  const reads = async (count: number) => {
    for (let i = 0; i < count; i++) {
      await tracedRead(i);
      if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await flush();
  };
  await reads(requests / 4);
  const before = process.cpuUsage();
  await reads(requests);
  const cpu = process.cpuUsage(before);
  await sdk?.shutdown();
  return (cpu.user + cpu.system) / requests;
}

function measure(variant: Variant, env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url)], {
      env: { ...process.env, ...env, SPAN_COST_VARIANT: variant },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on("exit", (code) => (code === 0 ? resolve(Number(out.trim().split("\n").pop())) : reject(new Error(`measurement exited with ${code}: ${out}`))));
  });
}

const requests = Number(process.env.BENCH_REQUESTS ?? 100000);
const inChild = process.env.SPAN_COST_VARIANT as Variant | undefined;
if (inChild) {
  console.log(await measureHere(inChild, requests));
} else {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const ratio = Number(process.env.BENCH_TRACING_RATIO ?? 0.1);
  const readUs = process.env.BENCH_READ_US ? Number(process.env.BENCH_READ_US) : undefined;
  await main("bench:span-cost", async () => {
    const sink = await startOtlpSink();
    onCleanup(async () => sink.close());
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_SERVICE_NAME: "order-service",
      OTEL_METRICS_EXPORTER: "none",
      OTEL_LOGS_EXPORTER: "none",
      // Made at full speed, spans would overflow the default queue of 2,048, and a dropped span is
      // never exported: this one holds them all, so every span made is sent.
      OTEL_BSP_MAX_QUEUE_SIZE: String(4 * requests),
    };
    const samples = new Map<Variant, number[]>(Object.keys(VARIANTS).map((variant) => [variant as Variant, []]));
    for (let round = 1; round <= rounds; round++) {
      const order = [...samples.keys()];
      if (round % 2 === 0) order.reverse();
      for (const variant of order) {
        const us = await step(`round ${round} ${variant}`, () => measure(variant, env));
        console.log(`    ${us.toFixed(1)} µs/read`);
        samples.get(variant)!.push(us);
      }
    }
    if ((await sink.exports()) === 0) throw new Error("no export reached the receiver: the exported variant measured nothing");
    const bare = median(samples.get("no SDK")!);
    const rows: Row[] = [...samples].map(([variant, values]) => {
      const added = median(values) - bare;
      return {
        variant,
        what: VARIANTS[variant],
        "CPU µs/read": median(values),
        "above no SDK": added,
        [`at ratio ${ratio}`]: ratio * added,
        ...(readUs === undefined ? {} : { [`share of a ${readUs} µs read`]: `${((100 * ratio * added) / readUs).toFixed(1)} %` }),
      };
    });
    printTable(`CPU time per traced read, medians of ${rounds} rounds of ${requests} reads`, rows);
    return true;
  });
}
