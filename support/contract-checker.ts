import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { resolveRef } from "./spec-refs.js";

/**
 * Checks an HTTP answer against an OpenAPI document: the status must be documented for the
 * operation, the content type must be a documented one, the body must match its schema and the
 * documented headers must be present. A documented path asked with another method must answer a
 * 405 problem with the right `Allow`; an undocumented path a 404 problem.
 */
export interface Operation {
  operationId: string;
  responses: Record<string, { $ref?: string; content?: Record<string, unknown>; headers?: Record<string, unknown> }>;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
}
export interface Answer {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}

export class ContractViolation extends Error {}

const HTTP_METHODS = ["get", "put", "post", "patch", "delete"];
const escapePointer = (segment: string) => segment.replace(/~/g, "~0").replace(/\//g, "~1");

export function createContractChecker(spec: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, allowUnionTypes: true });
  addFormats.default(ajv);
  ajv.addSchema(spec, "openapi.yaml");
  const validators = new Map<string, ValidateFunction>();
  const validatorFor = (pointer: string) => {
    let validate = validators.get(pointer);
    if (!validate) {
      validate = ajv.compile({ $ref: `openapi.yaml#${pointer}` });
      validators.set(pointer, validate);
    }
    return validate;
  };
  const routes = Object.entries(spec.paths).map(([template, item]) => ({
    template,
    pattern: new RegExp(
      `^${template
        .replace(/\/$/, "")
        .replace(/[.]/g, "\\.")
        .replace(/\{[^}]+\}/g, "[^/]+")}/?$`,
    ),
    item,
  }));

  const deref = <T>(value: T | { $ref: string }): T => resolveRef<T>(spec, value);

  function findOperation(method: string, url: string): { template: string; operation: Operation } | undefined {
    const path = url.split("?")[0] ?? url;
    const route = routes.find((r) => r.pattern.test(path));
    const operation = route?.item[method.toLowerCase()];
    return route && operation ? { template: route.template, operation } : undefined;
  }

  /** Throws a ContractViolation unless the answer is what the spec documents; returns the operation. */
  function check(method: string, url: string, answer: Answer): Operation | undefined {
    const fail = (message: string): never => {
      throw new ContractViolation(`${method} ${url} → ${answer.statusCode}: ${message}\nbody: ${answer.body.slice(0, 500)}`);
    };
    const contentType = String(answer.headers["content-type"] ?? "").split(";")[0]!;
    const parse = () => {
      try {
        return JSON.parse(answer.body) as unknown;
      } catch {
        return fail("the body is not JSON");
      }
    };
    const found = findOperation(method, url);
    if (!found) {
      // A documented path without this method is 405 with `Allow` (components/responses/MethodNotAllowed);
      // an unknown path is 404.
      const known = routes.find((r) => r.pattern.test(url.split("?")[0] ?? url));
      if (known) {
        if (answer.statusCode !== 405) fail("a documented path answered an undocumented method with something other than 405");
        const allow = String(answer.headers.allow ?? "")
          .split(/,\s*/)
          .filter(Boolean)
          .sort();
        const expected = HTTP_METHODS.filter((m) => known.item[m]).map((m) => m.toUpperCase());
        if (expected.includes("GET")) expected.push("HEAD");
        if (allow.join() !== expected.sort().join()) fail(`Allow is "${String(answer.headers.allow)}", expected ${expected.join(", ")}`);
      } else if (answer.statusCode !== 404) {
        fail("an undocumented route answered");
      }
      if (contentType !== "application/problem+json") fail(`content type ${contentType}, expected application/problem+json`);
      const validate = validatorFor("/components/schemas/Problem");
      if (!validate(parse())) fail(ajv.errorsText(validate.errors));
      return undefined;
    }
    const { template, operation } = found;
    const status = String(answer.statusCode);
    const raw = operation.responses[status];
    if (!raw) return fail(`status ${status} is not documented for ${operation.operationId}`);
    const documented = deref(raw);
    for (const [header, definition] of Object.entries(documented.headers ?? {})) {
      const required = deref(definition as { required?: boolean }).required === true;
      if (required && answer.headers[header.toLowerCase()] === undefined) fail(`required header ${header} is missing`);
    }
    const media = Object.keys(documented.content ?? {});
    if (media.length === 0) {
      if (answer.body.length > 0) fail("a response documented without a body has one");
      return operation;
    }
    if (!media.includes(contentType)) fail(`content type ${contentType} is not one of ${media.join(", ")}`);
    const responsePointer = raw.$ref ? raw.$ref.replace(/^#/, "") : ["", "paths", escapePointer(template), method.toLowerCase(), "responses", status].join("/");
    const validate = validatorFor(`${responsePointer}/content/${escapePointer(contentType)}/schema`);
    const body = contentType.endsWith("json") ? parse() : answer.body;
    if (!validate(body)) fail(ajv.errorsText(validate.errors, { separator: "; " }));
    return operation;
  }

  /** Every (operationId, status) pair the spec documents. */
  function documentedPairs(): { operationId: string; status: number }[] {
    return Object.values(spec.paths).flatMap((item) =>
      HTTP_METHODS.filter((m) => item[m]).flatMap((m) =>
        Object.keys(item[m]!.responses).map((status) => ({ operationId: item[m]!.operationId, status: Number(status) })),
      ),
    );
  }

  return { check, findOperation, documentedPairs };
}
