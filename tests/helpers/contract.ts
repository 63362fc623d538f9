import { appendFileSync, mkdirSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { LightMyRequestResponse } from "fastify";
import { loadSpec } from "../../src/spec.js";

/**
 * Checks every answer the tests receive against openapi.yaml: the status must be documented for
 * the operation, the content type must be the documented one, the body must match its schema and
 * documented headers must be present. Also records which (operation, status) pairs were seen.
 */
interface Operation {
  operationId: string;
  responses: Record<string, { content?: Record<string, unknown>; headers?: Record<string, unknown> }>;
}

const spec = loadSpec() as { paths: Record<string, Record<string, Operation>> };
const ajv = new Ajv2020({ strict: false, allErrors: true, allowUnionTypes: true });
addFormats.default(ajv);
ajv.addSchema(spec, "openapi.yaml");

const routes = Object.entries(spec.paths).map(([template, item]) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\/$/, "").replace(/\{[^}]+\}/g, "[^/]+")}/?$`),
  item,
}));

const validators = new Map<string, ValidateFunction>();
function validatorFor(pointer: string): ValidateFunction {
  let validate = validators.get(pointer);
  if (!validate) {
    validate = ajv.compile({ $ref: `openapi.yaml#${pointer}` });
    validators.set(pointer, validate);
  }
  return validate;
}

const escapePointer = (segment: string) => segment.replace(/~/g, "~0").replace(/\//g, "~1");

/** Follows a local `$ref` ("#/components/…") to the object it names. */
function deref<T>(value: T | { $ref: string }): T {
  if (value && typeof value === "object" && "$ref" in value) {
    const path = value.$ref.replace(/^#\//, "").split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
    return deref(path.reduce<any>((node, key) => node?.[key], spec) as T);
  }
  return value as T;
}

export const COVERAGE_DIR = process.env.CONTRACT_COVERAGE_DIR;

function record(operationId: string, status: number): void {
  if (!COVERAGE_DIR) return;
  mkdirSync(COVERAGE_DIR, { recursive: true });
  appendFileSync(`${COVERAGE_DIR}/${process.pid}.jsonl`, `${JSON.stringify({ operationId, status })}\n`);
}

export class ContractViolation extends Error {}

export function findOperation(method: string, url: string): { template: string; operation: Operation } | undefined {
  const path = url.split("?")[0] ?? url;
  const route = routes.find((r) => r.pattern.test(path));
  const operation = route?.item[method.toLowerCase()];
  return route && operation ? { template: route.template, operation } : undefined;
}

export function assertMatchesSpec(method: string, url: string, response: LightMyRequestResponse): void {
  const found = findOperation(method, url);
  const fail = (message: string) => {
    throw new ContractViolation(`${method} ${url} → ${response.statusCode}: ${message}\nbody: ${response.body.slice(0, 500)}`);
  };
  const contentType = String(response.headers["content-type"] ?? "").split(";")[0];
  if (!found) {
    // Undocumented routes may only answer the generic 404/405 problem.
    if (![404, 405].includes(response.statusCode)) fail("an undocumented route answered");
    if (contentType !== "application/problem+json") fail(`content type ${contentType}, expected application/problem+json`);
    const validate = validatorFor("/components/schemas/Problem");
    if (!validate(response.json())) fail(ajv.errorsText(validate.errors));
    return;
  }
  const { template, operation } = found;
  const status = String(response.statusCode);
  const documented = operation.responses[status] ? deref(operation.responses[status]) : undefined;
  if (!documented) fail(`status ${status} is not documented for ${operation.operationId}`);
  record(operation.operationId, response.statusCode);
  for (const header of Object.keys(documented!.headers ?? {})) {
    if (response.headers[header.toLowerCase()] === undefined) fail(`documented header ${header} is missing`);
  }
  const media = Object.keys(documented!.content ?? {});
  if (media.length === 0) {
    if (response.body.length > 0) fail("a response documented without a body has one");
    return;
  }
  if (!media.includes(contentType!)) fail(`content type ${contentType} is not one of ${media.join(", ")}`);
  const responseRef = (operation.responses[status] as { $ref?: string }).$ref;
  const responsePointer = responseRef
    ? responseRef.replace(/^#/, "")
    : ["", "paths", escapePointer(template), method.toLowerCase(), "responses", status].join("/");
  const pointer = `${responsePointer}/content/${escapePointer(contentType!)}/schema`;
  const validate = validatorFor(pointer);
  if (!validate(response.json())) fail(ajv.errorsText(validate.errors, { separator: "; " }));
}
