import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { AppError, internalError, invalidFields, type ErrorCode, type FieldError, type FieldSource } from "../../errors/app-error.js";
import { fromDatabaseError } from "../db/errors.js";
import { problemHeaders, toProblemDocument } from "./problem.js";
import { logProblem } from "./request-logging.js";
import { traceIdOf } from "./trace-context.js";

/** Fastify's own request errors, as problems. */
const FASTIFY_ERROR_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "malformed-json",
  FST_ERR_CTP_EMPTY_JSON_BODY: "malformed-json",
  FST_ERR_CTP_BODY_TOO_LARGE: "payload-too-large",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported-media-type",
};

const SPEC_METHODS = ["get", "put", "post", "patch", "delete"] as const;

/**
 * Routes every error and every unknown route to an RFC 9457 problem answer: a known path asked
 * with a method it does not have is 405 with `Allow`, anything else 404.
 */
export const problemHandlersPlugin = fp(
  async (app: FastifyInstance, options: { specification: Record<string, unknown> }) => {
    registerProblemHandlers(app, options.specification);
  },
  { name: "problem-handlers", fastify: "5.x" },
);

function registerProblemHandlers(app: FastifyInstance, spec: Record<string, unknown>): void {
  const allowedMethods = methodsByPath(spec);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    return sendProblem(request, reply, toAppError(error), error);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? request.url;
    const allow = allowedMethods(path);
    if (allow) {
      const error = new AppError("method-not-allowed", `${path} does not support ${request.method}; it supports ${allow}.`);
      return sendProblem(request, reply, error, undefined, { allow });
    }
    return sendProblem(request, reply, new AppError("not-found", `No route for ${request.method} ${path}`));
  });
}

/** A lookup from a request path to its `Allow` value (undefined when no spec path matches). */
function methodsByPath(spec: Record<string, unknown>): (path: string) => string | undefined {
  const paths = (spec.paths ?? {}) as Record<string, Record<string, unknown>>;
  const routes = Object.entries(paths).map(([template, item]) => {
    const methods = SPEC_METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
    if (methods.includes("GET")) methods.splice(1, 0, "HEAD");
    // Both forms of a path are served (with and without the trailing slash); parameters are one segment.
    const pattern = template
      .replace(/\/$/, "")
      .replace(/[.]/g, "\\.")
      .replace(/\{[^}]+\}/g, "[^/]+");
    return { pattern: new RegExp(`^${pattern}/?$`), allow: methods.join(", ") };
  });
  return (path) => routes.find((route) => route.pattern.test(path))?.allow;
}

/**
 * Fastify's `clientErrorHandler`: requests the HTTP parser refuses (a bad Content-Length, a garbage
 * request line, a header without a colon, Content-Length with Transfer-Encoding, headers too large,
 * too slow) get a problem document too. They never reach a route, so this writes the answer itself.
 */
export function answerClientError(this: FastifyInstance, error: ConnectionError, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const problem =
    error.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? new AppError("request-timeout", "The request was not received in time.")
      : error.code === "HPE_HEADER_OVERFLOW"
        ? new AppError("headers-too-large", "The request's headers are larger than the service accepts.")
        : new AppError("malformed-request", `The request is not valid HTTP/1.1 (${error.code ?? "parse error"}).`);
  this.log.debug({ err: error }, "malformed HTTP request");
  // Only when nothing of an answer was written yet (as Node itself does).
  if (socket.writable && socket.bytesWritten === 0) {
    const body = JSON.stringify(toProblemDocument(problem, requestPath(error.rawPacket)));
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\nContent-Type: application/problem+json\r\n` +
        "X-Content-Type-Options: nosniff\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** The path of a refused request when its request line can be read, else "/". */
function requestPath(rawPacket: unknown): string {
  if (!Buffer.isBuffer(rawPacket)) return "/";
  const line = rawPacket.subarray(0, 2048).toString("latin1").split("\r\n", 1)[0] ?? "";
  const target = /^[A-Z]+ (\/[\x21-\x7e]{0,1000}) HTTP\/1\.[01]$/.exec(line)?.[1];
  return target?.split("?")[0] ?? "/";
}

/** Answers with `error` as a problem document and logs it, with `cause` (the error behind it) for a 5xx. */
export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  error: AppError,
  cause?: unknown,
  extraHeaders: Record<string, string> = {},
): FastifyReply {
  logProblem(request, error, cause);
  return reply
    .code(error.status)
    .headers({ ...problemHeaders(error), ...extraHeaders })
    .type("application/problem+json")
    .send(toProblemDocument(error, request.url.split("?")[0] ?? request.url, request.id, traceIdOf(request)));
}

/** Client errors Fastify or a plugin may raise that the table above does not name, by status. */
const GENERIC_CLIENT_ERRORS: Partial<Record<number, ErrorCode>> = {
  400: "bad-request",
  401: "unauthorized",
  403: "forbidden",
  404: "not-found",
  405: "method-not-allowed",
  408: "request-timeout",
  413: "payload-too-large",
  415: "unsupported-media-type",
  429: "too-many-requests",
  431: "headers-too-large",
};

/** Any error thrown while answering, as the service's error. */
export function toAppError(error: FastifyError & { errors?: unknown[] }): AppError {
  if (error instanceof AppError) return error;
  // fastify-openapi-glue wraps security handler failures (as a 401). An unexpected one, such as
  // the database being away while a token is checked, must not pass for a credentials problem.
  const wrapped = error.errors?.find((e) => !(e instanceof AppError)) ?? error.errors?.[0];
  if (wrapped instanceof Error) return toAppError(wrapped as FastifyError);
  if (error.validation) return invalidFields(validationErrors(error));
  const fromDatabase = fromDatabaseError(error);
  if (fromDatabase) return fromDatabase;
  const code = FASTIFY_ERROR_CODES[error.code];
  if (code) return new AppError(code, error.message);
  if (error instanceof SyntaxError && error.statusCode === 400) {
    return new AppError("malformed-json", "The body is not valid JSON.");
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Not a validation failure: a client error of another kind keeps its status, under an honest code.
    const generic = GENERIC_CLIENT_ERRORS[status] ?? "bad-request";
    return new AppError(generic, error.message, { status });
  }
  return internalError();
}

const VALIDATION_SOURCE: Record<string, FieldSource> = {
  body: "body",
  querystring: "query",
  params: "params",
  headers: "headers",
};

/** A JSON pointer's segments ("/products/0/id" is ["products", "0", "id"]). */
const pointerSegments = (pointer: string): string[] =>
  pointer === ""
    ? []
    : pointer
        .slice(1)
        .split("/")
        .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));

/** The fields a `dependentSchemas: {x: {not: {required: [...]}}}` refusal excludes (Ajv's verbose errors carry the schema). */
const excludedBy = (item: object): string[] => (item as { schema?: { required?: string[] } }).schema?.required ?? [];

/** Schema validation failures (Ajv's), each with the field it names in its part of the request. */
export function validationErrors(error: Pick<FastifyError, "validation" | "validationContext">): FieldError[] {
  const source = VALIDATION_SOURCE[error.validationContext ?? "body"] ?? "body";
  const all = error.validation ?? [];
  // An `anyOf` (PriceInput, StockInput) fails with one error per branch and one for itself: say it once.
  const alternatives = all.filter((item) => item.keyword === "anyOf");
  const branchOf = (item: (typeof all)[number]) => alternatives.find((any) => item !== any && item.schemaPath.startsWith(`${any.schemaPath}/`));
  const items = all
    .filter((item) => !branchOf(item))
    .map((item) =>
      item.keyword === "anyOf"
        ? { ...item, message: [...new Set(all.filter((other) => branchOf(other) === item).map((other) => other.message))].join(", or ") }
        : item,
    );
  return items.map((item) => {
    const params = item.params as Record<string, unknown>;
    const excluding = /\/dependentSchemas\/([^/]+)\/not$/.exec(item.schemaPath)?.[1];
    const child = params.missingProperty ?? params.additionalProperty ?? excluding;
    const field = [...pointerSegments(item.instancePath), ...(child ? [String(child)] : [])];
    const message = params.additionalProperty
      ? "is not an accepted field"
      : excluding
        ? `cannot be sent together with ${excludedBy(item).join(", ")}: send one or the other`
        : (item.message ?? "is invalid");
    return { field, source, message };
  });
}
