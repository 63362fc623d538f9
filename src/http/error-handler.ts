import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { invalidRequest, Problem, type ProblemFieldError, type ProblemKind } from "./problem.js";
import { isDatabaseUnavailable } from "../db/errors.js";

const RETRY_AFTER_SECONDS = "5";

/** Fastify's own request errors, as problems. */
const FASTIFY_ERROR_KINDS: Record<string, ProblemKind> = {
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
export function registerProblemHandlers(app: FastifyInstance, spec: Record<string, unknown>): void {
  const allowedMethods = methodsByPath(spec);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const problem = toProblem(error);
    if (problem.status >= 500 && problem.kind === "internal-error") {
      request.log.error({ err: error }, "unexpected error");
    }
    return sendProblem(request, reply, problem);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? request.url;
    const allow = allowedMethods(path);
    if (allow) {
      return sendProblem(request, reply, new Problem("method-not-allowed", `${path} does not support ${request.method}; it supports ${allow}.`, { headers: { allow } }));
    }
    return sendProblem(request, reply, new Problem("not-found", `No route for ${request.method} ${path}`));
  });
}

/** A lookup from a request path to its `Allow` value (undefined when no spec path matches). */
function methodsByPath(spec: Record<string, unknown>): (path: string) => string | undefined {
  const paths = (spec.paths ?? {}) as Record<string, Record<string, unknown>>;
  const routes = Object.entries(paths).map(([template, item]) => {
    const methods = SPEC_METHODS.filter((m) => item[m]).map((m) => m.toUpperCase());
    if (methods.includes("GET")) methods.splice(1, 0, "HEAD");
    // Both forms of a path are served (with and without the trailing slash); parameters are one segment.
    const pattern = template.replace(/\/$/, "").replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+");
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
      ? new Problem("request-timeout", "The request was not received in time.")
      : error.code === "HPE_HEADER_OVERFLOW"
        ? new Problem("headers-too-large", "The request's headers are larger than the service accepts.")
        : new Problem("malformed-request", `The request is not valid HTTP/1.1 (${error.code ?? "parse error"}).`);
  this.log.debug({ err: error }, "malformed HTTP request");
  // Only when nothing of an answer was written yet (as Node itself does).
  if (socket.writable && socket.bytesWritten === 0) {
    const body = JSON.stringify(problem.toDocument(requestPath(error.rawPacket)));
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

export function sendProblem(request: FastifyRequest, reply: FastifyReply, problem: Problem): FastifyReply {
  return reply
    .code(problem.status)
    .headers(problem.headers)
    .type("application/problem+json")
    .send(problem.toDocument(request.url.split("?")[0] ?? request.url, request.id));
}

function toProblem(error: FastifyError & { errors?: unknown[] }): Problem {
  if (error instanceof Problem) return error;
  // fastify-openapi-glue wraps security handler failures (as a 401). An unexpected one, such as
  // the database being away while a token is checked, must not pass for a credentials problem.
  const wrapped = error.errors?.find((e) => !(e instanceof Problem)) ?? error.errors?.[0];
  if (wrapped instanceof Error) return toProblem(wrapped as FastifyError);
  if (error.validation) {
    return invalidRequest(validationErrors(error));
  }
  if (isDatabaseUnavailable(error)) {
    return new Problem("service-unavailable", "The database is unavailable; try again shortly.", {
      headers: { "retry-after": RETRY_AFTER_SECONDS },
    });
  }
  const kind = FASTIFY_ERROR_KINDS[error.code];
  if (kind) return new Problem(kind, error.message);
  if (error instanceof SyntaxError && error.statusCode === 400) {
    return new Problem("malformed-json", "The body is not valid JSON.");
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return new Problem(status === 404 ? "not-found" : "validation-failed", error.message, { status });
  }
  return new Problem("internal-error", "An unexpected error occurred. Quote the request id when reporting it.");
}

type ValidationContext = "body" | "querystring" | "params" | "headers";
const CONTEXT_PREFIX: Record<ValidationContext, string> = {
  body: "/body",
  querystring: "/query",
  params: "/params",
  headers: "/headers",
};

function validationErrors(error: FastifyError): ProblemFieldError[] {
  const prefix = CONTEXT_PREFIX[(error.validationContext ?? "body") as ValidationContext] ?? "";
  return (error.validation ?? []).map((item) => {
    const params = item.params as Record<string, unknown>;
    const child = params.missingProperty ?? params.additionalProperty;
    const path = `${prefix}${item.instancePath}${child ? `/${String(child)}` : ""}`;
    const message = params.additionalProperty ? "is not an accepted field" : (item.message ?? "is invalid");
    return { path, message };
  });
}
