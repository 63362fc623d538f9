import { LogController, type FastifyReply, type FastifyRequest } from "fastify";
import type { AppError } from "../../errors/app-error.js";
import { toProblemDocument } from "./problem.js";

/** Probes poll every few seconds: their requests are logged at debug (a failing probe's problem still at warn). */
const PROBE_PATHS = new Set(["/healthz", "/readyz"]);

const isProbe = (request: FastifyRequest) => PROBE_PATHS.has((request.routeOptions.url ?? "").replace(/\/$/, ""));

/** Whether @fastify/otel instruments this app (src/instrumentation.ts started tracing before it was created). */
export const isTraced = (request: FastifyRequest): boolean => typeof (request as { opentelemetry?: unknown }).opentelemetry === "function";

/** Set on a traced request's logger while its `incoming request` line waits for the trace id. */
const INCOMING_HELD = Symbol("incoming line held");
interface HoldingLogger {
  [INCOMING_HELD]?: boolean;
}

function logIncomingRequest(request: FastifyRequest): void {
  if (isProbe(request)) request.log.debug({ req: request }, "incoming request");
  else request.log.info({ req: request }, "incoming request");
}

/** Writes the request's incoming line if it was held back for its trace id, once. */
export function logDeferredIncomingRequest(request: FastifyRequest): void {
  const log = request.log as HoldingLogger;
  if (log[INCOMING_HELD] !== true) return;
  log[INCOMING_HELD] = false;
  logIncomingRequest(request);
}

/** Fastify's per-request lines, logged under `request_id`, at debug for probes. */
export class RequestLogController extends LogController {
  constructor() {
    super({ requestIdLogLabel: "request_id" });
  }

  override incomingRequest(request: FastifyRequest): void {
    // Traced, the line waits for the request's trace id (rememberTraceId, trace-context.ts), so that it has its trace_id too.
    if (isTraced(request)) (request.log as HoldingLogger)[INCOMING_HELD] = true;
    else logIncomingRequest(request);
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply, _metadata?: Record<string, unknown>): void {
    // A request refused before its hooks ran (a malformed URL) still gets its incoming line.
    logDeferredIncomingRequest(request);
    if (this.isLogDisabled(request)) return;
    // Milliseconds to the hundredth: 34.35 ms, not 34.35114099999191 ms.
    const responseTime = Math.round(reply.elapsedTime * 100) / 100;
    if (error) reply.log.error({ res: reply, err: error, responseTime }, "request errored");
    else if (isProbe(request)) reply.log.debug({ res: reply, responseTime }, "request completed");
    else reply.log.info({ res: reply, responseTime }, "request completed");
  }
}

/**
 * One line per problem answer, saying why: a client's mistake at info with its code and detail,
 * an unavailable dependency at warn and a failure of ours at error, each with the error behind it.
 */
export function logProblem(request: FastifyRequest, problem: AppError, cause?: unknown): void {
  const behind = problem.cause ?? (cause === problem ? undefined : cause);
  const errors = problem.fieldErrors ? toProblemDocument(problem, "").errors : undefined;
  const fields = {
    problem: { status: problem.status, code: problem.code, detail: problem.detail, ...(errors ? { errors } : {}) },
    ...(problem.status >= 500 && behind !== undefined ? { err: behind } : {}),
  };
  const message = `${problem.status} ${problem.code}: ${problem.detail}`;
  if (problem.status < 500) request.log.info(fields, message);
  else if (problem.status === 503) request.log.warn(fields, message);
  else request.log.error(fields, message);
}
