import { resolveRef } from "../../support/spec-refs.js";
import { loadSpec } from "../../src/infra/spec.js";

/** The operations of openapi.yaml with what a generic test needs to call them. */
export interface SpecOperation {
  operationId: string;
  method: string;
  path: string;
  /** Security requirement: none, any signed-in user, an admin, or the metrics token. */
  access: "public" | "user" | "admin" | "metrics";
  pathParams: { name: string; example: unknown; schema: Record<string, unknown> }[];
  queryParams: { name: string; schema: Record<string, unknown> }[];
  bodyExample?: unknown;
  bodySchema?: Record<string, unknown>;
  statuses: number[];
}

type Json = Record<string, any>;
const spec = loadSpec() as Json;

const deref = (value: Json): Json => resolveRef<Json>(spec, value);

export const specOperations: SpecOperation[] = Object.entries(spec.paths as Json).flatMap(([path, item]) =>
  ["get", "post", "put", "patch", "delete"]
    .filter((method) => item[method])
    .map((method) => {
      const operation = item[method] as Json;
      const parameters = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map(deref);
      const security = (operation.security ?? spec.security) as Json[];
      // `[{}, {metricsToken: []}]` (token optional) still names the scheme that applies when configured.
      const requirement = security.find((r) => Object.keys(r).length > 0) ?? {};
      const access: SpecOperation["access"] = requirement.metricsToken
        ? "metrics"
        : requirement.bearerAuth
          ? requirement.bearerAuth.includes("admin")
            ? "admin"
            : "user"
          : "public";
      const media = operation.requestBody?.content?.["application/json"];
      return {
        operationId: operation.operationId,
        method: method.toUpperCase(),
        path,
        access,
        pathParams: parameters.filter((p) => p.in === "path").map((p) => ({ name: p.name, example: p.example, schema: deref(p.schema) })),
        queryParams: parameters.filter((p) => p.in === "query").map((p) => ({ name: p.name, schema: deref(p.schema) })),
        bodyExample: media?.example,
        bodySchema: media ? deref(media.schema) : undefined,
        statuses: Object.keys(operation.responses).map(Number),
      };
    }),
);

/** The operation's path with its parameters filled in. */
export function urlFor(operation: SpecOperation, values: Record<string, unknown> = {}): string {
  return operation.path.replace(/\{([^}]+)\}/g, (_, name: string) =>
    encodeURIComponent(String(values[name] ?? operation.pathParams.find((p) => p.name === name)?.example)),
  );
}
