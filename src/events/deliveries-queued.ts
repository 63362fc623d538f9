import type { ClaimedDelivery } from "./deliveries-repository.js";

/**
 * Tells this process's dispatchers that a transaction queued webhook deliveries, so they look for
 * them soon after its commit instead of at their next poll. (Other processes find them by polling.)
 */
const listeners = new Set<() => void>();

/** Calls `listener` at each queued delivery until the returned function is called. */
export function onDeliveriesQueued(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function deliveriesQueued(): void {
  for (const listener of listeners) listener();
}

/**
 * A dispatcher of this process that takes deliveries at insert: the writing transaction inserts
 * them already leased to it (their first attempt claimed), and hands them over; it sends them
 * once that transaction has committed (told so by `committed`, or else by asking the database).
 * It takes only what was written to its own database.
 */
export interface DeliveryTaker {
  /** Its database (see DeliveriesRepository.databaseIdentity). */
  database: string;
  /** How long a delivery taken at insert stays leased to it. */
  leaseMs: number;
  /** Whether it has room for more now. */
  hasRoom(): boolean;
  /** Deliveries leased to it by the transaction `xid`, not committed yet. */
  take(xid: string, deliveries: ClaimedDelivery[]): void;
  /** The transaction `xid` has committed: its deliveries can go now. */
  committed(xid: string): void;
}

const takers = new Set<DeliveryTaker>();

export function addDeliveryTaker(taker: DeliveryTaker): () => void {
  takers.add(taker);
  return () => takers.delete(taker);
}

/** The takers with room now. */
export function availableTakers(): DeliveryTaker[] {
  return [...takers].filter((taker) => taker.hasRoom());
}
