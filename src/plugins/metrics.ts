import type { FastifyInstance } from "fastify";
import fastifyMetricsModule from "fastify-metrics";
import client from "prom-client";
import { LATENCY_BUCKETS_SECONDS, type Metrics } from "../observability/metrics.js";

/** Per-route latency histograms (labelled by route template) and process metrics, into the app's registry. */
// A CommonJS module with an ES default export: Node hands us the module object.
const fastifyMetrics = fastifyMetricsModule.default;

export async function registerMetrics(app: FastifyInstance, metrics: Metrics): Promise<void> {
  const registers = [metrics.registry];
  const options: Parameters<typeof fastifyMetrics>[1] = {
    endpoint: null, // served by the getMetrics operation of openapi.yaml
    promClient: client,
    defaultMetrics: { enabled: true, register: metrics.registry },
    routeMetrics: {
      enabled: { histogram: true, summary: false },
      overrides: {
        // The summary is disabled but still constructed: keep it out of the global registry too.
        summary: { registers },
        histogram: {
          registers,
          buckets: LATENCY_BUCKETS_SECONDS,
        },
      },
    },
  };
  await app.register(fastifyMetrics, options);
}
