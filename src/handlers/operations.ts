import type { Metrics } from "../observability/metrics.js";
import type { HandlersFor } from "../http/operation-types.js";
import { SPEC_TEXT, loadSpec } from "../spec.js";

export function operationsHandlers(deps: { metrics: Metrics }): HandlersFor<"getMetrics" | "getOpenApiJson" | "getOpenApiYaml"> {
  const specJson = loadSpec();
  return {
    async getMetrics(_request, reply) {
      reply.type(deps.metrics.registry.contentType);
      return deps.metrics.registry.metrics();
    },
    async getOpenApiJson() {
      return specJson;
    },
    async getOpenApiYaml(_request, reply) {
      reply.type("application/yaml");
      return SPEC_TEXT;
    },
  };
}
