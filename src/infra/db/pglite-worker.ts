// The embedded PGlite's own thread: its WebAssembly runs here, so a long query never stalls the
// service's event loop, which only moves the wire protocol's bytes (./pglite-thread.ts).
// Requests run one at a time, in the order they arrive: PGlite is one session.
import { parentPort, workerData } from "node:worker_threads";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import type { PgliteThreadData, PgliteThreadReply, PgliteThreadRequest } from "./pglite-thread.js";

const port = parentPort!;
const { dataDir, loadDataDir } = workerData as PgliteThreadData;

const reply = (message: PgliteThreadReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
const failure = (error: unknown) => String((error as Error)?.message ?? error);

let db: PGlite;
try {
  db = await PGlite.create({ dataDir, loadDataDir: loadDataDir ? new Blob([loadDataDir]) : undefined, extensions: { pg_trgm } });
  reply({ kind: "ready" });
} catch (error) {
  reply({ kind: "failed", message: failure(error) });
  port.close();
}

port.on("message", async (request: PgliteThreadRequest) => {
  try {
    switch (request.op) {
      case "exec": {
        // PGlite answers a view of a buffer it reuses for the next call: copy it out, then hand the copy over.
        const output = await db.runExclusive(async () => (await db.execProtocolRaw(request.batch)).slice());
        return reply({ kind: "result", id: request.id, bytes: output }, [output.buffer as ArrayBuffer]);
      }
      case "dump": {
        const bytes = new Uint8Array(await (await db.dumpDataDir("none")).arrayBuffer());
        return reply({ kind: "result", id: request.id, bytes }, [bytes.buffer]);
      }
      case "close":
        await db.close();
        reply({ kind: "result", id: request.id, bytes: new Uint8Array(0) });
        return port.close();
    }
  } catch (error) {
    reply({ kind: "error", id: request.id, message: failure(error) });
  }
});
