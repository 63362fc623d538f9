// The embedded database's thread, seen from the service's thread. PGlite and the loopback server
// that serves it both run in a worker thread of their own (./pglite-worker.ts): the service's
// connections talk TCP straight to that thread, and this thread does no protocol work at all.
// What passes between the two threads is control only: start (data directory, address), ready
// with the port and this start's password, or failed; dump the data directory; close.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

/**
 * How long close() waits for the thread to end by itself once PGlite and its server are closed
 * (tens of milliseconds) before it terminates the thread.
 */
const THREAD_EXIT_WAIT_MS = 2_000;

export interface PgliteThreadData {
  dataDir?: string;
  loadDataDir?: Uint8Array<ArrayBuffer>;
  host: string;
  /** 0: any free port. */
  port: number;
  idleInTransactionMs?: number;
}

export type PgliteThreadRequest = { id: number; op: "dump" | "close" };

/** Where starting failed: opening PGlite (its data directory), or listening on the address. */
export type PgliteStartStage = "open" | "listen";

export type PgliteThreadReply =
  | { kind: "ready"; port: number; user: string; password: string }
  | { kind: "failed"; stage: PgliteStartStage; message: string; code?: string }
  | { kind: "result"; id: number; bytes: Uint8Array<ArrayBuffer> }
  | { kind: "error"; id: number; message: string };

export interface PgliteThread {
  host: string;
  port: number;
  /** The user name and password connections must present. */
  user: string;
  password: string;
  /** An uncompressed tarball of the data directory. */
  dumpDataDir(): Promise<Blob>;
  /** Ends every connection (rolling back what they left open), closes PGlite (flushing the data directory) and ends the thread. */
  close(): Promise<void>;
}

export interface PgliteThreadOptions extends Omit<PgliteThreadData, "loadDataDir"> {
  loadDataDir?: Blob;
  /** Told once if the thread ends other than by close() (the database is gone: every connection to it fails). */
  onUnexpectedExit?: (error: Error) => void;
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

function startFailure(reply: Extract<PgliteThreadReply, { kind: "failed" }>): Error {
  const error = reply.stage === "open" ? new PgliteOpenError(reply.message) : new Error(reply.message);
  if (reply.code) (error as NodeJS.ErrnoException).code = reply.code;
  return error;
}

export async function startPgliteThread(options: PgliteThreadOptions): Promise<PgliteThread> {
  const { loadDataDir: blob, onUnexpectedExit, ...start } = options;
  const loadDataDir = blob ? new Uint8Array(await blob.arrayBuffer()) : undefined;
  const worker = startWorker({ ...start, loadDataDir }, loadDataDir ? [loadDataDir.buffer] : []);
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  const pending = new Map<number, { resolve: (bytes: Uint8Array<ArrayBuffer>) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let gone: Error | undefined;
  let closing: Promise<void> | undefined;
  let started = false;
  const fail = (error: Error) => {
    if (gone) return;
    gone = error;
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
    if (started && !closing) onUnexpectedExit?.(error);
  };

  const ready = new Promise<Extract<PgliteThreadReply, { kind: "ready" }>>((resolve, reject) => {
    worker.on("message", (message: PgliteThreadReply) => {
      switch (message.kind) {
        case "ready":
          return resolve(message);
        case "failed":
          return reject(startFailure(message));
        case "result":
          pending.get(message.id)?.resolve(message.bytes);
          return pending.delete(message.id);
        case "error":
          pending.get(message.id)?.reject(new Error(message.message));
          return pending.delete(message.id);
      }
    });
    // An uncaught error in the thread is reported here, then it exits.
    worker.once("error", (error) => {
      reject(error);
      fail(new Error(`the embedded database's thread failed: ${error.message}`, { cause: error }));
    });
    worker.once("exit", (code) => {
      const error = new Error(`the embedded database's thread ended (exit code ${code})`);
      reject(error);
      fail(error);
    });
  });
  let address: Extract<PgliteThreadReply, { kind: "ready" }>;
  try {
    address = await ready;
    started = true;
  } catch (error) {
    await worker.terminate();
    throw error;
  }

  const call = (op: PgliteThreadRequest["op"]): Promise<Uint8Array<ArrayBuffer>> => {
    if (gone) return Promise.reject(gone);
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, op } satisfies PgliteThreadRequest);
    });
  };

  return {
    host: start.host,
    port: address.port,
    user: address.user,
    password: address.password,
    dumpDataDir: async () => new Blob([await call("dump")]),
    close() {
      closing ??= (async () => {
        await call("close").catch(() => {});
        // The thread ends by itself once it has wound down; terminating it at once cut that short.
        const overdue = setTimeout(() => void worker.terminate(), THREAD_EXIT_WAIT_MS);
        await exited;
        clearTimeout(overdue);
      })();
      return closing;
    },
  };
}
