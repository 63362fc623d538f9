// The embedded database's own thread: PGlite's WebAssembly and the loopback server in front of
// it (./pglite-server.ts) both run here, so the service's connections talk TCP straight to the
// thread that owns PGlite, a long query never stalls the service's event loop, and no query's
// bytes cross between threads. The service's thread (./pglite-thread.ts) sends only control
// requests: dump the data directory, close.
import { parentPort, workerData } from "node:worker_threads";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { startPgliteServer, type PgliteServer, type ProtocolBackend } from "./pglite-server.js";
import type { PgliteStartStage, PgliteThreadData, PgliteThreadReply, PgliteThreadRequest } from "./pglite-thread.js";

const port = parentPort!;
const options = workerData as PgliteThreadData;

const reply = (message: PgliteThreadReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
const failure = (error: unknown) => String((error as Error)?.message ?? error);

/** PGlite's one session, batch by batch; its query lock keeps a dump from landing inside a batch. */
function protocolBackend(db: PGlite): ProtocolBackend {
  // PGlite answers a view of a buffer it reuses for the next call: the server gets a copy.
  return { execProtocol: (batch) => db.runExclusive(async () => Buffer.from(await db.execProtocolRaw(batch))) };
}

async function start(): Promise<{ db: PGlite; server: PgliteServer } | undefined> {
  let stage: PgliteStartStage = "open";
  let db: PGlite | undefined;
  try {
    const { dataDir, loadDataDir, host, port: listenPort, idleInTransactionMs } = options;
    db = await PGlite.create({ dataDir, loadDataDir: loadDataDir ? new Blob([loadDataDir]) : undefined, extensions: { pg_trgm } });
    stage = "listen";
    const server = await startPgliteServer(protocolBackend(db), { host, port: listenPort, idleInTransactionMs });
    reply({ kind: "ready", port: server.port, user: server.user, password: server.password });
    return { db, server };
  } catch (error) {
    await db?.close().catch(() => {});
    reply({ kind: "failed", stage, message: failure(error), code: (error as NodeJS.ErrnoException)?.code });
    port.close();
    return undefined;
  }
}

const started = await start();
if (started) {
  const { db, server } = started;
  port.on("message", async (request: PgliteThreadRequest) => {
    try {
      switch (request.op) {
        case "dump": {
          const bytes = new Uint8Array(await (await db.dumpDataDir("none")).arrayBuffer());
          return reply({ kind: "result", id: request.id, bytes }, [bytes.buffer]);
        }
        case "close":
          await server.close(); // ends every connection, rolling back what they left open
          await db.close();
          reply({ kind: "result", id: request.id, bytes: new Uint8Array(0) });
          return port.close();
      }
    } catch (error) {
      reply({ kind: "error", id: request.id, message: failure(error) });
    }
  });
}
