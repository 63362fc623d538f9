import type { FastifyInstance } from "fastify";
import underPressure from "@fastify/under-pressure";
import { sendProblem } from "../http/error-handler.js";
import { Problem } from "../http/problem.js";

export interface PressureLimits {
  /** 0 switches the guard off. */
  maxEventLoopDelayMs: number;
  retryAfterSeconds: number;
  sampleIntervalMs?: number;
}

/** Answers 503 while the event loop is saturated, instead of queueing work without bound. */
export async function registerUnderPressure(app: FastifyInstance, limits: PressureLimits): Promise<void> {
  await app.register(underPressure, {
    maxEventLoopDelay: limits.maxEventLoopDelayMs,
    ...(limits.sampleIntervalMs ? { sampleInterval: limits.sampleIntervalMs } : {}),
    retryAfter: limits.retryAfterSeconds,
    exposeStatusRoute: false,
    pressureHandler: (request, reply) => {
      sendProblem(
        request,
        reply,
        new Problem("service-unavailable", "The service is overloaded; try again shortly.", {
          headers: { "retry-after": String(limits.retryAfterSeconds) },
        }),
      );
    },
  });
}
