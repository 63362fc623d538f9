// An in-process PostgreSQL (PGlite, PostgreSQL 18 compiled to WebAssembly) served over TCP on
// loopback by ./pglite-server.ts, which gives each connection the one PGlite session to itself
// for a whole batch or transaction and admits only this process (a password made at each start).
// PGlite and that server run together in a worker thread of their own (./pglite-thread.ts,
// ./pglite-worker.ts): the service's connections reach it over TCP and its event loop does no
// database work; this module guards the data directory and starts and stops the thread.
import { access, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { PgliteOpenError, startPgliteThread, type PgliteThread, type PgliteThreadOptions } from "./pglite-thread.js";

/** The embedded database cannot start; the message says what happened and what to do. */
export class EmbeddedDatabaseError extends Error {}

export interface EmbeddedPostgres {
  /** postgres:// URL for pg / @prisma/adapter-pg, with this start's password: keep it out of logs. */
  url: string;
  /** Stops the server and closes PGlite (flushing the data directory). */
  close(): Promise<void>;
  /** An uncompressed tarball of the data directory, for `loadDataDir` (used to clone test databases). */
  dumpDataDir(): Promise<Blob>;
  /** Set when an earlier start was stopped while it created the database in the data directory, and this start created it again. */
  recreated: boolean;
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
  /** Told once if the database's thread ends other than by close(): from then on every connection to it fails. */
  onFailure?: (error: Error) => void;
  /**
   * Run on a database this start created in `dataDir` (the migrations), as part of its creation:
   * a start stopped before it ended leaves a database the next start creates again.
   */
  prepareNew?: (url: string) => Promise<void>;
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const { dataDir, host = "127.0.0.1", port = 0, loadDataDir, onFailure, prepareNew } = opts;
  const unlock = dataDir ? await lockDataDir(dataDir) : async () => {};
  let db: PgliteThread | undefined;
  let recreated = false;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  const urlOf = (thread: PgliteThread) => `postgres://${thread.user}:${thread.password}@${urlHost}:${thread.port}/postgres`;
  try {
    let creating: string | undefined;
    if (dataDir) {
      recreated = await discardUnfinishedCreation(dataDir);
      if (await isNewDataDir(dataDir)) creating = await markCreation(dataDir);
    }
    db = await openPglite({ dataDir, loadDataDir, host, port, onUnexpectedExit: onFailure });
    if (creating) {
      await prepareNew?.(urlOf(db));
      await rm(creating, { force: true });
    }
  } catch (error) {
    await db?.close().catch(() => {}); // the error that stopped the start is the one to report
    await unlock();
    throw error;
  }
  const opened = db;
  let closing: Promise<void> | undefined;
  return {
    url: urlOf(opened),
    close() {
      closing ??= (async () => {
        await opened.close(); // ends every connection (rolling back what they left open), then PGlite
        await unlock();
      })();
      return closing;
    },
    dumpDataDir: () => opened.dumpDataDir(),
    recreated,
  };
}

async function openPglite(options: PgliteThreadOptions): Promise<PgliteThread> {
  const { dataDir } = options;
  try {
    return await startPgliteThread(options);
  } catch (error) {
    if (!dataDir || !(error instanceof PgliteOpenError)) throw error;
    const reason = error.message.split("\n")[0]!.slice(0, 200);
    throw new EmbeddedDatabaseError(
      `The embedded database in ${dataDir} exists but does not open (${reason}). Restore the directory from a backup, or remove it (make clean) to start over with an empty database.`,
      { cause: error },
    );
  }
}

/**
 * Creating a database (PGlite's initdb and the migrations: a few seconds, at the first start) is
 * marked by a file beside the directory until PGlite has opened the new database and `prepareNew`
 * has run on it. A start stopped meanwhile (a Ctrl-C during the first `make run`) leaves part of a
 * database, or one with a migration half recorded, and nothing of anyone's: the next start finds
 * it by this mark and creates it again, instead of refusing it.
 */
const creationMark = (dataDir: string) => `${dataDir.replace(/[/\\]+$/, "")}.creating`;

async function markCreation(dataDir: string): Promise<string> {
  const mark = creationMark(dataDir);
  await writeFile(mark, `${process.pid}\n`);
  return mark;
}

/** Empties the directory when an earlier start was stopped while it created the database there; says whether it did. */
async function discardUnfinishedCreation(dataDir: string): Promise<boolean> {
  const unfinished = await access(creationMark(dataDir)).then(
    () => true,
    () => false,
  );
  if (!unfinished) return false;
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  return true;
}

/**
 * PGlite initialises a new database in any directory without PG_VERSION, even one that holds
 * files: so a damaged or foreign directory would be silently replaced. Only an empty (or new)
 * directory may become a new database: true for one, false for a database, refused otherwise.
 */
async function isNewDataDir(dataDir: string): Promise<boolean> {
  const entries = await readdir(dataDir);
  if (entries.length === 0) return true;
  const hasVersion = await access(join(dataDir, "PG_VERSION")).then(
    () => true,
    () => false,
  );
  if (hasVersion) return false;
  throw new EmbeddedDatabaseError(
    `The embedded database directory ${dataDir} is not empty but holds no database (PG_VERSION is missing). Restore it from a backup, or remove it (make clean) to start over with an empty database.`,
  );
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
      throw new EmbeddedDatabaseError(
        `The embedded database in ${dataDir} is in use by process ${pid}${pid === process.pid ? " (this one)" : ""}: stop that process first, or give this one another DATA_DIR (lock file ${lockFile}).`,
      );
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
