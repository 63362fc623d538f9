import DataLoader from "dataloader";

/** At most this many keys go into one statement; a larger burst makes several. */
export const MAX_COALESCED_KEYS = 100;

export interface CoalescedReadsOptions {
  /** Told how many reads each statement served. */
  onStatement?: (reads: number) => void;
  /**
   * Statements in flight at once; further reads gather into the next statement until one answers
   * (default: no bound). For a database that runs one statement at a time (the embedded one), a
   * statement sent while another runs only waits in its queue: held here instead, it grows with
   * every read that arrives meanwhile, and costs one round trip for all of them.
   */
  maxInFlight?: number;
}

/**
 * Reads by key that concurrent requests share: every key asked for until the event loop next
 * turns to I/O (setImmediate) goes into one `readMany`, so a burst of reads costs one statement
 * and one round trip instead of one each. A read only ever joins a statement that has not been
 * sent yet, so it still starts after its request arrived (a client reading its own write sees
 * it), and nothing is kept once the statement has answered.
 */
export function coalescedReads<K, V>(readMany: (keys: K[]) => Promise<Map<K, V>>, options: CoalescedReadsOptions = {}): (key: K) => Promise<V | null> {
  const { onStatement, maxInFlight = Number.POSITIVE_INFINITY } = options;
  let inFlight = 0;
  /** Statements ready to go, waiting for one in flight to answer (each still taking reads until sent). */
  const held: (() => void)[] = [];
  const whenRoom = (send: () => void) => {
    if (inFlight < maxInFlight) send();
    else held.push(send);
  };
  const loader = new DataLoader<K, V | null>(
    async (keys) => {
      inFlight++;
      try {
        onStatement?.(keys.length);
        const found = await readMany([...new Set(keys)]);
        return keys.map((key) => found.get(key) ?? null);
      } finally {
        inFlight--;
        held.shift()?.();
      }
    },
    { cache: false, maxBatchSize: MAX_COALESCED_KEYS, batchScheduleFn: (send) => setImmediate(() => whenRoom(send)) },
  );
  return (key) => loader.load(key);
}
