// PGlite in a worker thread (./pglite-worker.ts), driven from the service's thread through the
// one call the loopback server needs: run a batch of wire-protocol messages, answer the output.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

export interface PgliteThreadData {
  dataDir?: string;
  loadDataDir?: Uint8Array<ArrayBuffer>;
}

export type PgliteThreadRequest = { id: number; op: "exec"; batch: Uint8Array } | { id: number; op: "dump" | "close" };

export type PgliteThreadReply =
  | { kind: "ready" }
  | { kind: "failed"; message: string }
  | { kind: "result"; id: number; bytes: Uint8Array<ArrayBuffer> }
  | { kind: "error"; id: number; message: string };

/** What the loopback server needs of PGlite: one session that runs protocol batches, one at a time. */
export interface ProtocolBackend {
  /** Runs frontend messages and answers the backend's (a copy of its own). */
  execProtocol(batch: Uint8Array): Promise<Buffer>;
}

export interface PgliteThread extends ProtocolBackend {
  /** An uncompressed tarball of the data directory. */
  dumpDataDir(): Promise<Blob>;
  /** Closes PGlite (flushing the data directory) and ends the thread. */
  close(): Promise<void>;
}

/** PGlite could not open; the message is its own. */
export class PgliteOpenError extends Error {}

/**
 * Started as built JavaScript beside this file, or, when this file is TypeScript run by tsx or
 * vitest, as TypeScript through tsx (a worker does not inherit the loader of the thread that starts it).
 */
function startWorker(workerData: PgliteThreadData, transfer: ArrayBuffer[]): Worker {
  const here = import.meta.url;
  if (!here.endsWith(".ts")) return new Worker(new URL("./pglite-worker.js", here), { workerData, transferList: transfer });
  // tsx's ESM API (its package's "./esm/api" import export), found from this file.
  const tsx = pathToFileURL(join(dirname(createRequire(here).resolve("tsx/package.json")), "dist/esm/api/index.mjs")).href;
  const entry = new URL("./pglite-worker.ts", here).href;
  const boot = `const { workerData } = require("node:worker_threads");
import(workerData.tsx).then(({ tsImport }) => tsImport(workerData.entry, workerData.entry));`;
  return new Worker(boot, { eval: true, workerData: { ...workerData, tsx, entry }, transferList: transfer });
}

export async function startPgliteThread(options: { dataDir?: string; loadDataDir?: Blob }): Promise<PgliteThread> {
  const loadDataDir = options.loadDataDir ? new Uint8Array(await options.loadDataDir.arrayBuffer()) : undefined;
  const worker = startWorker({ dataDir: options.dataDir, loadDataDir }, loadDataDir ? [loadDataDir.buffer as ArrayBuffer] : []);
  const pending = new Map<number, { resolve: (bytes: Uint8Array<ArrayBuffer>) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let gone: Error | undefined;
  const fail = (error: Error) => {
    gone ??= error;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };

  const ready = new Promise<void>((resolve, reject) => {
    worker.on("message", (message: PgliteThreadReply) => {
      switch (message.kind) {
        case "ready":
          return resolve();
        case "failed":
          return reject(new PgliteOpenError(message.message));
        case "result":
          pending.get(message.id)?.resolve(message.bytes);
          return pending.delete(message.id);
        case "error":
          pending.get(message.id)?.reject(new Error(message.message));
          return pending.delete(message.id);
      }
    });
    worker.once("error", (error) => {
      reject(error);
      fail(error);
    });
    worker.once("exit", (code) => {
      const error = new Error(`the embedded database's thread ended (exit code ${code})`);
      reject(error);
      fail(error);
    });
  });
  try {
    await ready;
  } catch (error) {
    await worker.terminate();
    throw error;
  }

  const call = (request: { op: "exec"; batch: Uint8Array } | { op: "dump" | "close" }): Promise<Uint8Array<ArrayBuffer>> => {
    if (gone) return Promise.reject(gone);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      if (request.op === "exec") {
        // A copy of its own to hand over: the batch may be a view of a shared pool.
        const batch = Uint8Array.from(request.batch);
        worker.postMessage({ id, op: "exec", batch }, [batch.buffer]);
      } else {
        worker.postMessage({ id, op: request.op });
      }
    });
  };

  let closing: Promise<void> | undefined;
  return {
    execProtocol: async (batch) => {
      const bytes = await call({ op: "exec", batch });
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    dumpDataDir: async () => new Blob([await call({ op: "dump" })]),
    close() {
      closing ??= (async () => {
        await call({ op: "close" }).catch(() => {});
        await worker.terminate();
      })();
      return closing;
    },
  };
}
