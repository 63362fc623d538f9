// An in-process PostgreSQL (PGlite, PostgreSQL 18 compiled to WebAssembly) served over TCP.
//
// Connection behaviour of @electric-sql/pglite-socket 0.2.17, read from its source and checked
// with pg.Pool:
// - PGlite is one single-user backend. PGLiteSocketServer multiplexes several TCP connections
//   onto it through one query queue; while a connection has an explicit transaction open, only
//   that connection's messages run and the others wait.
// - `maxConnections` defaults to 1 and is enforced by dropping extra sockets
//   ("Connection terminated unexpectedly" in pg), so we raise it: pools up to MAX_CONNECTIONS work.
// - All connections share one session: SET, advisory locks, temporary tables and named prepared
//   statements are visible across them, and two transactions never run concurrently.
// - Each connection's messages are queued one by one, so in principle two extended-protocol
//   queries (Parse/Bind/Execute/Sync) could interleave on the shared unnamed statement. In practice
//   pg writes a query's messages in one chunk that the server processes without yielding (3000
//   concurrent mixed parameterized queries over 10 connections: no error); very large messages
//   that arrive split could still interleave.
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

const MAX_CONNECTIONS = 200;

export interface EmbeddedPostgres {
  /** postgres:// URL for pg / @prisma/adapter-pg. */
  url: string;
  /** Stops the server and closes PGlite (flushing the data directory). */
  close(): Promise<void>;
  /** An uncompressed tarball of the data directory, for `loadDataDir` (used to clone test databases). */
  dumpDataDir(): Promise<Blob>;
}

export interface EmbeddedPostgresOptions {
  /** Persist here; in memory when omitted. */
  dataDir?: string;
  /** Defaults to 127.0.0.1. */
  host?: string;
  /** Defaults to 0: any free port. */
  port?: number;
  /** Start from a tarball made by PGlite's dumpDataDir() (much faster than a fresh initdb). */
  loadDataDir?: Blob;
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const { dataDir, host = "127.0.0.1", port = 0, loadDataDir } = opts;
  const unlock = dataDir ? await lockDataDir(dataDir) : async () => {};
  let db: PGlite;
  let server: PGLiteSocketServer;
  try {
    db = await PGlite.create({ dataDir, loadDataDir, extensions: { pg_trgm } });
    server = new PGLiteSocketServer({ db, host, port, maxConnections: MAX_CONNECTIONS });
    await server.start().catch(async (error: unknown) => {
      await db.close();
      throw error;
    });
  } catch (error) {
    await unlock();
    throw error;
  }
  // getServerConn() is "host:port" with the port the OS picked.
  const boundPort = server.getServerConn().split(":").at(-1);
  const urlHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `postgres://postgres@${urlHost}:${boundPort}/postgres`,
    close() {
      closing ??= (async () => {
        await server.stop();
        // stop() detaches connections without waiting for their cleanup (a ROLLBACK of an open
        // transaction); let that run before closing the database under it.
        await new Promise((resolve) => setImmediate(resolve));
        await db.close();
        await unlock();
      })();
      return closing;
    },
    dumpDataDir: () => db.dumpDataDir("none"),
  };
}

/**
 * PGlite takes no lock on its data directory, and two instances on one directory (say
 * `npm run migrate` while the server runs) corrupt it. A pid file beside the directory
 * refuses the second one; a lock left by a dead process is taken over.
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const lockFile = `${dataDir.replace(/[/\\]+$/, "")}.lock`;
  await mkdir(dirname(lockFile), { recursive: true });
  await mkdir(dataDir, { recursive: true });
  for (;;) {
    try {
      await writeFile(lockFile, `${process.pid}\n`, { flag: "wx" });
      return () => rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const pid = Number((await readFile(lockFile, "utf8").catch(() => "")).trim());
    if (pid > 0 && isAlive(pid)) {
      throw new Error(`${dataDir} is in use by process ${pid}${pid === process.pid ? " (this one)" : ""} (lock file ${lockFile})`);
    }
    await rm(lockFile, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
