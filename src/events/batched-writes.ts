import DataLoader from "dataloader";

/** At most this many items go into one write; a larger burst makes several. */
const MAX_BATCH = 200;

/**
 * Items to write that concurrent work shares: an item waits while the previous write is still in
 * flight, and every item that arrives meanwhile goes into the next write with it, so a steady
 * stream of items costs one statement per round trip instead of one per item, and a lone item is
 * written at once. The promise of `add` settles when its write has (with that write's error).
 */
export function batchedWrites<T>(write: (items: readonly T[]) => Promise<void>): (item: T) => Promise<void> {
  let previous: Promise<unknown> = Promise.resolve();
  const loader = new DataLoader<T, undefined>(
    async (items) => {
      const written = write(items);
      previous = written.catch(() => {});
      try {
        await written;
        return items.map(() => undefined);
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        return items.map(() => failure);
      }
    },
    { cache: false, maxBatchSize: MAX_BATCH, batchScheduleFn: (send) => void previous.then(() => setImmediate(send)) },
  );
  return (item) => loader.load(item);
}
