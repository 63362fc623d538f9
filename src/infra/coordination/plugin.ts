import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { type Coordination, startCoordination } from "./connection.js";

export interface CoordinationOptions {
  /** Coordinate through this PostgreSQL; undefined: not at all (this process's database is its own). */
  url?: string;
  checkIntervalMs?: number;
  /** The channels notified by other processes' writes (the features' `channels`). */
  channels?: readonly string[];
}

/** Any key works, as long as every process of a deployment uses the same one. */
export const JOBS_LOCK_KEY = 0x6f726473; // "ords"

declare module "fastify" {
  interface FastifyInstance {
    /** Undefined when the database belongs to this process alone (embedded): it is then the only runner of everything. */
    coordination: Coordination | undefined;
  }
}

/**
 * The coordination connection of a process sharing its PostgreSQL with others (src/infra/coordination/connection.ts):
 * a product write anywhere drops this process's cached counts, and one process of the deployment
 * holds the periodic jobs' lock. Closed with the app.
 */
export const coordinationPlugin = fp(
  async (app: FastifyInstance, options: CoordinationOptions) => {
    const { serviceMetrics: metrics } = app;
    const coordination = options.url
      ? startCoordination(options.url, {
          channels: [...(options.channels ?? [])],
          leaderLockKey: JOBS_LOCK_KEY,
          checkIntervalMs: options.checkIntervalMs,
          log: app.log.child({ component: "coordination" }),
          onStateChange: (state) => metrics.coordination(state),
        })
      : undefined;
    app.decorate("coordination", coordination);
    if (!coordination) {
      metrics.coordination({ connected: false, leader: true });
      return;
    }
    app.addHook("onClose", () => coordination.close());
  },
  { name: "coordination", dependencies: ["metrics"], fastify: "5.x" },
);
