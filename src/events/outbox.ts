import { v7 as uuidv7 } from "uuid";
import type { Prisma } from "../../generated/prisma/client.js";
import { availableTakers, deliveriesQueued } from "./deliveries-queued.js";
import { type ClaimedDelivery, DATABASE_IDENTITY } from "./deliveries-repository.js";
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
 *
 * A delivery is written already leased to a dispatcher of this process ($5: the databases of
 * those with room, $6: their leases), its first attempt claimed, unless no dispatcher here is on
 * this database or an earlier delivery of the same resource to that endpoint is still pending
 * (then it waits for it, and is claimed as usual). The rows answered are the deliveries written
 * (taker: the dispatcher's position in $5, or null), with what the taker needs to send them: the
 * data as stored, so that the first attempt's body is the same as a retry's (jsonb orders keys).
 * A delivery's created_at is its event's occurred_at: the purge removes them together by it.
 */
const WRITE_EVENT = `
WITH event AS (
  INSERT INTO events (id, xid, type, resource, data)
  VALUES ($1::uuid, pg_current_xact_id()::text::bigint, $2::text, $3::text, $4::jsonb)
  RETURNING id, xid, resource, occurred_at, data
), here AS (
  SELECT array_position($5::text[], ${DATABASE_IDENTITY}) AS taker
), target AS (
  SELECT w.id, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at,
    CASE WHEN NOT EXISTS (
      SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = w.id AND p.resource = $3::text AND p.status = 'pending'
    ) THEN here.taker END AS taker
  FROM webhook_endpoints w, here
  WHERE w.enabled AND $2::text = ANY (w.event_types)
), queued AS (
  INSERT INTO webhook_deliveries (endpoint_id, event_id, event_xid, resource, created_at, attempts, next_attempt_at)
  SELECT target.id, event.id, event.xid, event.resource, event.occurred_at, CASE WHEN target.taker IS NULL THEN 0 ELSE 1 END,
    now() + coalesce(($6::int[])[target.taker], 0) * interval '1 millisecond'
  FROM event, target
  RETURNING id, endpoint_id
)
SELECT queued.id, target.taker, event.xid::text AS xid, event.occurred_at AS "occurredAt", event.data, target.id AS "endpointId", target.url, target.secret,
  target.previous_secret AS "previousSecret", target.previous_secret_expires_at AS "previousSecretExpiresAt"
FROM queued JOIN target ON target.id = queued.endpoint_id CROSS JOIN event`;

interface WrittenDelivery
  extends Pick<ClaimedDelivery, "id" | "occurredAt" | "data" | "endpointId" | "url" | "secret" | "previousSecret" | "previousSecretExpiresAt"> {
  taker: number | null;
  xid: string;
}

/** Records that `data` (the resource after the change, as the API describes it) changed in this transaction. Returns the event's id. */
export async function recordEvent(
  tx: Prisma.TransactionClient,
  type: EventType | typeof TEST_EVENT_TYPE,
  data: EventData | Record<string, unknown>,
): Promise<string> {
  const id = uuidv7();
  const takers = availableTakers();
  const written = await tx.$queryRawUnsafe<WrittenDelivery[]>(
    WRITE_EVENT,
    id,
    type,
    resourceOf(type, data),
    JSON.stringify(data),
    takers.map((taker) => taker.database),
    takers.map((taker) => taker.leaseMs),
  );
  const taken = new Map<number, ClaimedDelivery[]>();
  for (const { taker, xid: _xid, ...delivery } of written) {
    if (taker === null) continue;
    const leased = taken.get(taker) ?? [];
    leased.push({ ...delivery, attempt: 1, eventId: id, type });
    taken.set(taker, leased);
  }
  for (const [taker, deliveries] of taken) takers[taker - 1]!.take(written[0]!.xid, deliveries);
  if (written.some((delivery) => delivery.taker === null)) deliveriesQueued();
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
