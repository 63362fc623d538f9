import type { FastifyInstance } from "fastify";
import fastifyMetricsModule from "fastify-metrics";
import fp from "fastify-plugin";
import client from "prom-client";
import { createMetrics, LATENCY_BUCKETS_SECONDS, type Metrics } from "./service-metrics.js";

declare module "fastify" {
  interface FastifyInstance {
    serviceMetrics: Metrics;
  }
}

// A CommonJS module with an ES default export: Node hands us the module object.
const fastifyMetrics = fastifyMetricsModule.default;

/**
 * The app's own Prometheus registry (tests build many apps in one process) with the business and
 * database metrics, plus fastify-metrics' per-route latency histograms (labelled by route
 * template) and process metrics in the same registry.
 */
export const metricsPlugin = fp(
  async (app: FastifyInstance) => {
    const metrics = createMetrics();
    app.decorate("serviceMetrics", metrics);
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
  },
  { name: "metrics", fastify: "5.x" },
);
