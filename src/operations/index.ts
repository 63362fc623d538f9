import type { Feature } from "../infra/feature.js";
import { operationsHandlers } from "./handlers.js";
import { healthHandlers } from "./health.js";

export type { ServedSpecification } from "./handlers.js";
export { type Lifecycle, notReadyReason } from "./health.js";

/** Liveness, readiness, metrics and the served OpenAPI document. */
export const operations: Feature = {
  name: "operations",
  handlers: (app) => ({
    ...healthHandlers({ database: app.database, lifecycle: app.lifecycle }),
    ...operationsHandlers({ metrics: app.serviceMetrics, specification: app.specification }),
  }),
};
