import underPressure from "@fastify/under-pressure";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { sendProblem } from "../infra/http/error-handler.js";
import { overloaded } from "../errors/app-error.js";

export interface PressureLimits {
  /** 0 switches the guard off. */
  maxEventLoopDelayMs: number;
  retryAfterSeconds: number;
  sampleIntervalMs?: number;
}

const DEFAULT_SAMPLE_INTERVAL_MS = 1_000;

/** Answers 503 while the event loop is saturated, instead of queueing work without bound. */
export const underPressurePlugin = fp(
  async (app: FastifyInstance, limits: PressureLimits) => {
    const sampleInterval = limits.sampleIntervalMs ?? DEFAULT_SAMPLE_INTERVAL_MS;
    // The first samples measure start-up (loading modules, compiling schemas), not load: the
    // guard is armed once two samples have been taken after the app is ready.
    let armed = false;
    app.addHook("onReady", async () => {
      setTimeout(() => (armed = true), 2 * sampleInterval).unref();
    });
    await app.register(underPressure, {
      maxEventLoopDelay: limits.maxEventLoopDelayMs,
      sampleInterval,
      retryAfter: limits.retryAfterSeconds,
      exposeStatusRoute: false,
      pressureHandler: (request, reply) => {
        if (!armed) return; // handled as if there were no pressure
        sendProblem(request, reply, overloaded("The service is overloaded; try again shortly.", { retryAfterSeconds: limits.retryAfterSeconds }));
      },
    });
  },
  { name: "under-pressure", fastify: "5.x" },
);
