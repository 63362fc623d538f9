import { describe, expect, it } from "vitest";
import { batchedWrites } from "./batched-writes.js";

/** A write that records its batches and finishes when told to. */
function controlledWrite() {
  const batches: number[][] = [];
  const finish: Array<(error?: Error) => void> = [];
  const write = (items: readonly number[]) => {
    batches.push([...items]);
    return new Promise<void>((resolve, reject) => finish.push((error) => (error ? reject(error) : resolve())));
  };
  return { batches, finish, write };
}

/** A few turns of the event loop: a batch is sent on the turn after the previous write settled. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("batchedWrites", () => {
  it("writes a lone item at once, and the items that arrive during a write together in the next", async () => {
    const { batches, finish, write } = controlledWrite();
    const add = batchedWrites(write);
    const first = add(1);
    await settle();
    expect(batches).toEqual([[1]]);
    const rest = [add(2), add(3), add(4)];
    await settle();
    expect(batches).toEqual([[1]]); // still waiting for the first write
    finish[0]!();
    await first;
    await settle();
    expect(batches).toEqual([[1], [2, 3, 4]]);
    finish[1]!();
    await Promise.all(rest);
  });

  it("rejects every item of a failed write with its error, and goes on writing", async () => {
    const { batches, finish, write } = controlledWrite();
    const add = batchedWrites(write);
    const failed = [add(1), add(2)];
    await settle();
    finish[0]!(new Error("database away"));
    for (const item of failed) await expect(item).rejects.toThrow("database away");
    const next = add(3);
    await settle();
    expect(batches).toEqual([[1, 2], [3]]);
    finish[1]!();
    await expect(next).resolves.toBeUndefined();
  });
});
