import DataLoader from "dataloader";

/** At most this many keys go into one statement; a larger burst makes several. */
export const MAX_COALESCED_KEYS = 100;

/**
 * Reads by key that concurrent requests share: every key asked for until the event loop next
 * turns to I/O (setImmediate) goes into one `readMany`, so a burst of reads costs one statement
 * and one round trip instead of one each. A read only ever joins a statement that has not been
 * sent yet, so it still starts after its request arrived (a client reading its own write sees
 * it), and nothing is kept once the statement has answered. `onStatement` is told how many
 * reads each statement served.
 */
export function coalescedReads<K, V>(readMany: (keys: K[]) => Promise<Map<K, V>>, onStatement?: (reads: number) => void): (key: K) => Promise<V | null> {
  const loader = new DataLoader<K, V | null>(
    async (keys) => {
      onStatement?.(keys.length);
      const found = await readMany([...new Set(keys)]);
      return keys.map((key) => found.get(key) ?? null);
    },
    { cache: false, maxBatchSize: MAX_COALESCED_KEYS, batchScheduleFn: (send) => setImmediate(send) },
  );
  return (key) => loader.load(key);
}
