import type { Metrics } from "../platform/service-metrics.js";
import type { HandlersFor } from "../infra/http/operation-types.js";

/** The document the app was built with (openapi.yaml, or a test's changed copy), as JSON and as YAML text. */
export interface ServedSpecification {
  document: Record<string, unknown>;
  yaml: string;
}

export function operationsHandlers(deps: {
  metrics: Metrics;
  specification: ServedSpecification;
}): HandlersFor<"getMetrics" | "getOpenApiJson" | "getOpenApiYaml"> {
  return {
    async getMetrics(_request, reply) {
      reply.type(deps.metrics.registry.contentType);
      return deps.metrics.registry.metrics();
    },
    async getOpenApiJson() {
      return deps.specification.document;
    },
    async getOpenApiYaml(_request, reply) {
      reply.type("application/yaml");
      return deps.specification.yaml;
    },
  };
}
