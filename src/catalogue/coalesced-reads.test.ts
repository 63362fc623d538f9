import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { coalescedReads } from "./coalesced-reads.js";

/** A readMany whose statements answer only when told, recording the keys each one carried. */
function controlledStatements() {
  const statements: { keys: number[]; answer: () => void }[] = [];
  const readMany = (keys: number[]) =>
    new Promise<Map<number, string>>((resolve) => {
      statements.push({ keys, answer: () => resolve(new Map(keys.map((key) => [key, `row ${key}`]))) });
    });
  return { statements, readMany };
}

/** Lets every setImmediate queued so far (and those they queue) run. */
async function turns(count = 3): Promise<void> {
  for (let i = 0; i < count; i++) await nextTurn();
}

describe("coalescedReads", () => {
  it("puts the reads of one turn of the event loop into one statement, each answered with its own row", async () => {
    const { statements, readMany } = controlledStatements();
    const read = coalescedReads(readMany);
    const answers = Promise.all([read(1), read(2), read(1)]);
    await turns();
    expect(statements.map((s) => s.keys)).toEqual([[1, 2]]);
    statements[0]!.answer();
    expect(await answers).toEqual(["row 1", "row 2", "row 1"]);
  });

  it("without a bound, sends a later turn's reads at once beside a statement still running", async () => {
    const { statements, readMany } = controlledStatements();
    const read = coalescedReads(readMany);
    void read(1);
    await turns();
    void read(2);
    await turns();
    void read(3);
    await turns();
    expect(statements.map((s) => s.keys)).toEqual([[1], [2], [3]]);
  });

  it("with one statement in flight, gathers every read that arrives meanwhile into the next, sent when the first answers", async () => {
    const { statements, readMany } = controlledStatements();
    const onStatement: number[] = [];
    const read = coalescedReads(readMany, { maxInFlight: 1, onStatement: (reads) => onStatement.push(reads) });
    const first = read(1);
    await turns();
    const later = [read(2)];
    await turns();
    later.push(read(3), read(2));
    await turns();
    expect(statements.map((s) => s.keys)).toEqual([[1]]);

    statements[0]!.answer();
    expect(await first).toBe("row 1");
    await turns();
    expect(statements.map((s) => s.keys)).toEqual([[1], [2, 3]]);

    // A read arriving after that statement was sent does not join it: it waits for the next one.
    const last = read(4);
    await turns();
    expect(statements).toHaveLength(2);
    statements[1]!.answer();
    expect(await Promise.all(later)).toEqual(["row 2", "row 3", "row 2"]);
    await turns();
    expect(statements.map((s) => s.keys)).toEqual([[1], [2, 3], [4]]);
    statements[2]!.answer();
    expect(await last).toBe("row 4");
    expect(onStatement).toEqual([1, 3, 1]);
  });

  it("sends the next statement when one fails, and fails only the reads that shared the failed one", async () => {
    const statements: { keys: number[]; settle: (error?: Error) => void }[] = [];
    const read = coalescedReads(
      (keys: number[]) =>
        new Promise<Map<number, string>>((resolve, reject) => {
          statements.push({ keys, settle: (error) => (error ? reject(error) : resolve(new Map(keys.map((k) => [k, `row ${k}`])))) });
        }),
      { maxInFlight: 1 },
    );
    const failing = read(1);
    await turns();
    const next = read(2);
    await turns();
    statements[0]!.settle(new Error("connection lost"));
    await expect(failing).rejects.toThrow("connection lost");
    await turns();
    expect(statements.map((s) => s.keys)).toEqual([[1], [2]]);
    statements[1]!.settle();
    expect(await next).toBe("row 2");
  });
});
