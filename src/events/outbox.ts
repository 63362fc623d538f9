import { v7 as uuidv7 } from "uuid";
import type { Prisma, PrismaClient } from "../../generated/prisma/client.js";
import { availableTakers, deliveriesQueued, type DeliveryTaker } from "./deliveries-queued.js";
import type { ClaimedDelivery } from "./deliveries-repository.js";
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
 * The statement is the database function record_event (its migrations say why, and what it
 * does): deliveries are written already leased to a dispatcher of this process when one on this
 * database has room ($5: their databases, $6: their leases) and no earlier delivery of the same
 * resource to that endpoint is pending. When it wrote deliveries it answers one JSON text: the
 * event's xid, time and stored data, and the deliveries with their taker (null when it wrote none).
 *
 * This is that call with its arguments bound from `$first` on (pendingEvent's values), as a
 * column of a statement: the change's own statement can write its event too (an order does), one
 * round trip fewer in the transaction.
 */
export function recordEventCall(first: number): string {
  const [id, type, resource, data, takers, leases] = Array.from({ length: 6 }, (_, i) => `$${first + i}`);
  return `(SELECT written FROM record_event(${id}::uuid, ${type}::text, ${resource}::text, ${data}::jsonb, ${takers}::text[], ${leases}::int[]) AS written)`;
}

const WRITE_EVENT = `SELECT ${recordEventCall(1)} AS written`;

interface Written {
  xid: string;
  occurredAt: string;
  /** The data as stored (the text of the jsonb), as a claim answers it too. */
  data: string;
  deliveries: (Pick<ClaimedDelivery, "id" | "endpointId" | "url" | "secret" | "previousSecret"> & {
    taker: number | null;
    previousSecretExpiresAt: string | null;
  })[];
}

/** An event a statement of the caller's transaction is about to write (with recordEventCall). */
export interface PendingEvent {
  readonly id: string;
  /** record_event's six arguments, in order. */
  readonly values: readonly unknown[];
  /** Hands the deliveries taken at insert to their dispatchers; `written` is what record_event answered. */
  written(written: string | null): void;
}

/** What a transaction run by transactionWithEvents tells its dispatchers once it has committed. */
const commitNotices = new WeakMap<Prisma.TransactionClient, (() => void)[]>();

/**
 * Runs `body` in a transaction of `db` (as `db.$transaction(body, options)`). Once it has
 * committed, the dispatchers that took its events' deliveries at insert send them at once. In any
 * other transaction they wait until their dispatcher has asked the database whether it committed.
 */
export async function transactionWithEvents<T>(
  db: PrismaClient,
  body: (tx: Prisma.TransactionClient) => Promise<T>,
  options?: { timeout?: number },
): Promise<T> {
  const notices: (() => void)[] = [];
  const result = await db.$transaction((tx) => {
    commitNotices.set(tx, notices);
    return body(tx);
  }, options);
  for (const notice of notices) notice();
  return result;
}

/**
 * The values of an event about `data` (the resource after the change, as the API describes it),
 * for a statement of the change's transaction `tx`.
 */
export function pendingEvent(tx: Prisma.TransactionClient, type: EventType | typeof TEST_EVENT_TYPE, data: EventData | Record<string, unknown>): PendingEvent {
  const id = uuidv7();
  const takers = availableTakers();
  return {
    id,
    values: [id, type, resourceOf(type, data), JSON.stringify(data), takers.map((taker) => taker.database), takers.map((taker) => taker.leaseMs)],
    written: (text) => {
      if (text === null) return;
      const { xid, takenBy } = handOver(id, type, takers, JSON.parse(text) as Written);
      if (takenBy.length === 0) return;
      commitNotices.get(tx)?.push(() => {
        for (const taker of takenBy) taker.committed(xid);
      });
    },
  };
}

/** Records that `data` (the resource after the change, as the API describes it) changed in this transaction. Returns the event's id. */
export async function recordEvent(
  tx: Prisma.TransactionClient,
  type: EventType | typeof TEST_EVENT_TYPE,
  data: EventData | Record<string, unknown>,
): Promise<string> {
  const event = pendingEvent(tx, type, data);
  const [row] = await tx.$queryRawUnsafe<{ written: string | null }[]>(WRITE_EVENT, ...event.values);
  event.written(row?.written ?? null);
  return event.id;
}

/**
 * The deliveries record_event wrote already taken go to their dispatchers; the others are
 * announced to be claimed. Answers the writing transaction's id and the dispatchers that took some.
 */
function handOver(id: string, type: string, takers: DeliveryTaker[], written: Written): { xid: string; takenBy: DeliveryTaker[] } {
  const occurredAt = new Date(written.occurredAt);
  const taken = new Map<number, ClaimedDelivery[]>();
  let queued = false;
  for (const { taker, previousSecretExpiresAt, ...delivery } of written.deliveries) {
    if (taker === null) {
      queued = true;
      continue;
    }
    const leased = taken.get(taker) ?? [];
    leased.push({
      ...delivery,
      previousSecretExpiresAt: previousSecretExpiresAt === null ? null : new Date(previousSecretExpiresAt),
      attempt: 1,
      eventId: id,
      type,
      occurredAt,
      data: written.data,
    });
    taken.set(taker, leased);
  }
  for (const [taker, deliveries] of taken) takers[taker - 1]!.take(written.xid, deliveries);
  if (queued) deliveriesQueued();
  return { xid: written.xid, takenBy: [...taken.keys()].map((taker) => takers[taker - 1]!) };
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
