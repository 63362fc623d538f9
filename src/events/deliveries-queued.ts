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
