import { v7 as uuidv7 } from "uuid";
import type { Prisma } from "../../generated/prisma/client.js";
import { deliveriesQueued } from "./deliveries-queued.js";
import type { EventData, EventType, TEST_EVENT_TYPE } from "./event-types.js";

/**
 * Writes the event and one pending delivery per enabled webhook endpoint subscribed to its type,
 * in one statement of the caller's transaction: they commit with the change or not at all.
 *
 * `xid` is the writing transaction's id. The stream is read in (xid, id) order and only below
 * the oldest transaction still running (see events-repository.ts), so no event ever appears
 * before one a reader has passed; the events of one resource follow each other in that order
 * because a later change of the resource is written by a transaction that got its id after the
 * earlier one committed (see lockResourceEvents for the one case where that needs help).
 */
const WRITE_EVENT = `
WITH event AS (
  INSERT INTO events (id, xid, type, resource, data)
  VALUES ($1::uuid, pg_current_xact_id()::text::bigint, $2::text, $3::text, $4::jsonb)
  RETURNING id, xid, resource
)
INSERT INTO webhook_deliveries (endpoint_id, event_id, event_xid, resource, next_attempt_at)
SELECT w.id, event.id, event.xid, event.resource, now()
FROM event JOIN webhook_endpoints w ON w.enabled AND $2::text = ANY (w.event_types)`;

/** Records that `data` (the resource after the change, as the API describes it) changed in this transaction. Returns the event's id. */
export async function recordEvent(
  tx: Prisma.TransactionClient,
  type: EventType | typeof TEST_EVENT_TYPE,
  data: EventData | Record<string, unknown>,
): Promise<string> {
  const id = uuidv7();
  const deliveries = await tx.$executeRawUnsafe(WRITE_EVENT, id, type, resourceOf(type, data), JSON.stringify(data));
  if (deliveries > 0) deliveriesQueued();
  return id;
}

/** "order:12" for an order event about order 12. */
function resourceOf(type: string, data: { id?: unknown }): string {
  return `${type.slice(0, type.indexOf("."))}:${String(data.id ?? "")}`;
}

/** The advisory lock class of resource events (two-key advisory locks, apart from the single-key leader lock). */
const RESOURCE_EVENTS_LOCK = 0x65766e74;
const RESOURCE_KINDS = { order: 1, product: 2 } as const;

/**
 * Call first in a transaction that changes an existing resource by a statement that can wait for
 * its row lock (a product's update or removal). Two such transactions can otherwise be given
 * their ids in one order and take the row lock in the other, and their events would be listed in
 * the wrong order. This lock needs no transaction id, so whoever waits here gets its id only
 * after the holder committed. Orders need none: only one change can follow an order's creation.
 */
export async function lockResourceEvents(tx: Prisma.TransactionClient, kind: keyof typeof RESOURCE_KINDS, id: number): Promise<void> {
  await tx.$executeRawUnsafe("SELECT pg_advisory_xact_lock($1::int, $2::int)", RESOURCE_EVENTS_LOCK + RESOURCE_KINDS[kind], id);
}
