import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { invalidRequest, Problem, type ProblemFieldError, type ProblemKind } from "./problem.js";
import { isDatabaseUnavailable } from "../db/errors.js";
import { logProblem } from "./request-logging.js";

const RETRY_AFTER_SECONDS = "5";

/** Fastify's own request errors, as problems. */
const FASTIFY_ERROR_KINDS: Record<string, ProblemKind> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "malformed-json",
  FST_ERR_CTP_EMPTY_JSON_BODY: "malformed-json",
  FST_ERR_CTP_BODY_TOO_LARGE: "payload-too-large",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported-media-type",
};

/** Routes every error and every unknown route to an RFC 9457 problem answer. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    return sendProblem(request, reply, toProblem(error), error);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, new Problem("not-found", `No route for ${request.method} ${request.url.split("?")[0]}`)),
  );
}

/** Answers with `problem` and logs it, with `cause` (the error behind it) for a 5xx. */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, problem: Problem, cause?: unknown): FastifyReply {
  logProblem(request, problem, cause);
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
