import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import type { OperationHandlers } from "./http/operation-types.js";
import type { PeriodicJob } from "./jobs/periodic.js";

/**
 * A resource of the API: one folder of src/ whose index.ts exports it, added to the app by one
 * line of src/app.ts (FEATURES). The app registers every feature's plugin, then routes the spec's
 * operations to the handlers the features return.
 */
export interface Feature {
  name: string;
  /** Opens what the feature needs (its repositories, limits) and decorates the app with it; a fastify-plugin. */
  plugin?: FastifyPluginAsync;
  /** The handlers of the feature's operations, by operationId. */
  handlers(app: FastifyInstance): Partial<OperationHandlers>;
  /** Coordination channels the feature listens on, notified by other processes' writes. */
  channels?: readonly string[];
  /** Periodic work, run by one process of the deployment. */
  jobs?(app: FastifyInstance): PeriodicJob[];
}
