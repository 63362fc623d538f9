import { Writable } from "node:stream";

/** A pino destination that keeps the JSON log lines, for tests that check what is logged. */
export function captureLogs(): { stream: Writable; lines(): Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { stream, lines: () => lines };
}
