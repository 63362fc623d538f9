import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Problem } from "./problem.js";

/** Probes poll every few seconds: their requests are logged at debug, their failures still at warn. */
const PROBE_PATHS = new Set(["/healthz", "/readyz"]);

export function quietProbes(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    if (PROBE_PATHS.has(route.url.replace(/\/$/, "")) && route.logLevel === undefined) route.logLevel = "debug";
  });
}

/**
 * One line per problem answer, saying why: a client's mistake at info with its code and detail,
 * an unavailable dependency at warn and a failure of ours at error, each with the error behind it.
 */
export function logProblem(request: FastifyRequest, problem: Problem, cause?: unknown): void {
  const behind = problem.cause ?? (cause === problem ? undefined : cause);
  const fields = {
    problem: { status: problem.status, code: problem.kind, detail: problem.detail, ...(problem.errors ? { errors: problem.errors } : {}) },
    ...(problem.status >= 500 && behind !== undefined ? { err: behind } : {}),
  };
  const message = `${problem.status} ${problem.kind}: ${problem.detail}`;
  if (problem.status < 500) request.log.info(fields, message);
  else if (problem.status === 503) request.log.warn(fields, message);
  else request.log.error(fields, message);
}
