import type { Wire } from "../infra/http/operation-types.js";

/** What happened to which kind of resource; the spec's EventType. */
export type EventType = Wire<"EventType">;

export const EVENT_TYPES: readonly EventType[] = [
  "order.created",
  "order.cancelled",
  "order.fulfilled",
  "product.created",
  "product.updated",
  "product.deleted",
];

/** The resource an event is about, as its wire form: an order for `order.*`, a product for `product.*`. */
export type EventData = Wire<"Order"> | Wire<"Product">;

/**
 * What a webhook test sends: not a change, so never in the stream (GET /api/event/), and sent to
 * the one endpoint asked whatever its event types.
 */
export const TEST_EVENT_TYPE = "webhook.test";
