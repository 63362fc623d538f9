import { STATUS_CODES } from "node:http";
import type { components } from "../../../generated/openapi.js";
import { ERROR_CODES, type AppError, type FieldError, type FieldSource } from "../../errors/app-error.js";

export type ProblemDocument = components["schemas"]["Problem"];
export type ProblemFieldError = NonNullable<ProblemDocument["errors"]>[number];

const PROBLEM_TYPE_PREFIX = "urn:order-service:problem:";

/** The challenge of every 401 (RFC 6750); a bad token adds `error="invalid_token"`. */
const BEARER_CHALLENGE = 'Bearer realm="api"';

/** Where each part of a request starts in a problem's JSON pointers. */
const SOURCE_POINTER: Record<FieldSource, string> = {
  body: "/body",
  query: "/query",
  params: "/params",
  headers: "/headers",
};

const escapeSegment = (segment: string | number) => String(segment).replace(/~/g, "~0").replace(/\//g, "~1");

/** A field's JSON pointer into the request: ["products", 0, "quantity"] in the body is /body/products/0/quantity. */
export function fieldPointer(error: Pick<FieldError, "field" | "source">): string {
  return SOURCE_POINTER[error.source ?? "body"] + error.field.map((segment) => `/${escapeSegment(segment)}`).join("");
}

function toProblemFieldError({ field, source, ...rest }: FieldError): ProblemFieldError {
  return { path: fieldPointer({ field, source }), ...rest };
}

/** The title of an error's answer: its code's, or the status's own for a client error the table does not list. */
function titleOf(error: AppError): string {
  const entry = ERROR_CODES[error.code];
  return error.status === entry.status ? entry.title : (STATUS_CODES[error.status] ?? entry.title);
}

/** The RFC 9457 document for `error`, answered at `instance` (the request path). */
export function toProblemDocument(error: AppError, instance: string, requestId?: string, traceId?: string): ProblemDocument {
  return {
    type: `${PROBLEM_TYPE_PREFIX}${error.code}`,
    title: titleOf(error),
    status: error.status,
    detail: error.detail,
    instance,
    code: error.code,
    // Also the X-Request-Id header: what to quote when asking about this answer.
    ...(requestId ? { request_id: requestId } : {}),
    // When tracing is on: where to find the request's spans.
    ...(traceId ? { trace_id: traceId } : {}),
    ...(error.fieldErrors ? { errors: error.fieldErrors.map(toProblemFieldError) } : {}),
  };
}

/** The headers an error's answer carries: `Retry-After` when retrying helps, `WWW-Authenticate` on a 401. */
export function problemHeaders(error: AppError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (error.retryAfterSeconds !== undefined) headers["retry-after"] = String(error.retryAfterSeconds);
  if (error.status === 401) headers["www-authenticate"] = error.invalidToken ? `${BEARER_CHALLENGE}, error="invalid_token"` : BEARER_CHALLENGE;
  return headers;
}
