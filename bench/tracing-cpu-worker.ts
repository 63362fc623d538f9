// The service in this process, driven through Fastify's inject (no sockets, so none of the kernel's
// noise): CPU time per request of one kind of work. Started by bench/tracing-cpu.ts, in the checkout
// SERVICE_DIR (default this one): its app, its Fastify.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { trace, type ProxyTracerProvider } from "@opentelemetry/api";
import { tracingRequested } from "../src/platform/tracing-switch.js";
import type { FlushableTracerProvider } from "../src/platform/unsampled-spans.js";
import { randomInts, randomOrder } from "./lib/load.js";

const serviceDir = process.env.SERVICE_DIR ?? fileURLToPath(new URL("..", import.meta.url));
const fromService = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(serviceDir, path)).href)) as T;
const Fastify = ((await import(pathToFileURL(createRequire(join(serviceDir, "src/")).resolve("fastify")).href)) as typeof import("fastify")).default;
const { app: orderService, serverOptions } = await fromService<typeof import("../src/app.js")>("src/app.ts");
const { loadConfig } = await fromService<typeof import("../src/infra/config.js")>("src/infra/config.ts");

const work = process.env.WORK ?? "by-id";
const requests = Number(process.env.REQUESTS ?? 20000);
const concurrency = Number(process.env.CONCURRENCY ?? 16);
const firstId = Number(process.env.FIRST_ID);
const lastId = Number(process.env.LAST_ID);

const config = loadConfig(process.env);
const app = Fastify(serverOptions(config));
await app.register(orderService, { config });
await app.ready();

const name = `cpu-${randomBytes(4).toString("hex")}`;
const password = `Pw-${randomBytes(9).toString("base64url")}`;
await app.inject({ method: "POST", url: "/api/register/", payload: { name, password } });
const token = (await app.inject({ method: "POST", url: "/api/token/", payload: { name, password } })).json().access as string;
const random = randomInts(11);
const ids = Array.from({ length: lastId - firstId + 1 }, (_, i) => firstId + i);
const headers = { authorization: `Bearer ${token}` };
const one = () =>
  work === "order"
    ? app.inject({ method: "POST", url: "/api/order/", headers, payload: randomOrder(random, ids) })
    : app.inject({ method: "GET", url: `/api/product/${random(firstId, lastId)}`, headers });

async function run(count: number): Promise<number> {
  let left = count;
  let failed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) if ((await one()).statusCode >= 300) failed++;
    }),
  );
  return failed;
}

await run(Math.ceil(requests / 4));
// PROFILE_OUT: a CPU profile (.cpuprofile) of the measured requests alone.
const session = process.env.PROFILE_OUT ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
}
const before = process.cpuUsage();
const started = performance.now();
const failed = await run(requests);
// The spans still waiting in the SDK's batch are exported inside the window: sending them is part
// of what tracing costs. (Without this, at full sampling most of the export fell after it.)
const provider = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() as FlushableTracerProvider;
if (provider.forceFlush) await provider.forceFlush();
else if (tracingRequested(process.env))
  console.error("tracing-cpu: this checkout's tracer provider cannot flush (before 38d8eef): the spans still batched at the end are not counted");
const cpu = process.cpuUsage(before);
const ms = performance.now() - started;
if (session) {
  const { profile } = await session.post("Profiler.stop");
  await writeFile(process.env.PROFILE_OUT!, JSON.stringify(profile));
}
console.log(JSON.stringify({ cpuUs: (cpu.user + cpu.system) / requests, rps: (requests * 1000) / ms, failed }));
await app.close();
