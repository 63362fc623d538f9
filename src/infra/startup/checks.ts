// What start-up checks before it touches anything (before migrations): that the port is free and
// the database answers. Each failure becomes a StartupError: one line, what happened and what to do.
import { createServer } from "node:net";
import pg from "pg";
import { EmbeddedDatabaseError } from "../db/embedded.js";
import { readMigrations } from "../db/migrations.js";
import { StartupError } from "./error.js";

const DATABASE_TIMEOUT_MS = 5_000;

/** Fails when HOST:PORT cannot be listened on (PORT=0 picks a free port, so it always can). */
export async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  }).catch((error: NodeJS.ErrnoException) => {
    throw listenFailure(error, host, port);
  });
}

/** The StartupError for a failed listen, or the error itself when it is not one we can explain. */
export function listenFailure(error: NodeJS.ErrnoException, host: string, port: number): Error {
  switch (error.code) {
    case "EADDRINUSE":
      return new StartupError(`Port ${port} on ${host} is already in use (another order service?): stop that process, or start with PORT=<another port>.`, {
        cause: error,
      });
    case "EACCES":
      return new StartupError(`Port ${port} needs privileges this process does not have: use a port above 1023, such as PORT=8000.`, { cause: error });
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
      return new StartupError(`HOST=${host} is not an address of this machine: use 127.0.0.1, 0.0.0.0 (all addresses) or one of its own.`, { cause: error });
    default:
      return error;
  }
}

/**
 * Connects to DATABASE_URL once and checks that every migration of this version is applied (the
 * server never migrates a shared PostgreSQL itself).
 */
export async function checkDatabase(url: string): Promise<void> {
  const where = describeDatabaseUrl(url);
  const client = await connect(url);
  try {
    const pending = await pendingMigrations(client);
    if (pending.length > 0) {
      throw new StartupError(
        `The database at ${where} lacks ${pending.length} migration(s) of this version (${pending[0]}${pending.length > 1 ? ", …" : ""}): run \`npm run migrate\` (in the image: node dist/scripts/migrate.js) with the same DATABASE_URL first.`,
      );
    }
  } finally {
    await client.end().catch(() => {});
  }
}

/** Connects to DATABASE_URL once (for the migration script, which then brings the schema up to date). */
export async function checkDatabaseReachable(url: string): Promise<void> {
  await (await connect(url)).end().catch(() => {});
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: DATABASE_TIMEOUT_MS, query_timeout: DATABASE_TIMEOUT_MS });
  client.on("error", () => {});
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    throw connectFailure(error as NodeJS.ErrnoException, url, describeDatabaseUrl(url));
  }
}

async function pendingMigrations(client: pg.Client): Promise<string[]> {
  const wanted = (await readMigrations()).migrationDirectories.map((dir) => dir.path);
  let applied: Set<string>;
  try {
    const result = await client.query<{ migration_name: string }>(
      "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL",
    );
    applied = new Set(result.rows.map((row) => row.migration_name));
  } catch (error) {
    if ((error as { code?: string }).code === "42P01") return wanted; // no bookkeeping table: never migrated
    throw error;
  }
  return wanted.filter((name) => !applied.has(name));
}

function connectFailure(error: NodeJS.ErrnoException, url: string, where: string): Error {
  const { hostname, username, database } = parseUrl(url);
  const fixUrl = "check DATABASE_URL";
  switch (error.code) {
    case "ECONNREFUSED":
      return new StartupError(`Cannot reach PostgreSQL at ${where} (connection refused): start it, or ${fixUrl}.`, { cause: error });
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new StartupError(`Cannot resolve the database host "${hostname}": ${fixUrl}.`, { cause: error });
    case "28P01":
    case "28000":
      return new StartupError(`PostgreSQL at ${where} refused user "${username}" (${error.message}): fix the user or password in DATABASE_URL.`, {
        cause: error,
      });
    case "3D000":
      return new StartupError(`The database "${database}" does not exist on ${hostname}: create it (createdb ${database}) or ${fixUrl}.`, { cause: error });
  }
  if (/timeout/i.test(error.message)) {
    return new StartupError(
      `PostgreSQL at ${where} did not answer within ${DATABASE_TIMEOUT_MS / 1000} s: check that it runs and that the network lets this machine reach it.`,
      { cause: error },
    );
  }
  return new StartupError(`Cannot connect to PostgreSQL at ${where} (${firstLine(error.message)}): ${fixUrl}.`, { cause: error });
}

/**
 * The embedded database could not start in `dataDir`: a StartupError saying why and what to do.
 * (embedded.ts explains the cases it recognises itself; those messages pass unchanged.)
 */
export function embeddedFailure(error: unknown, dataDir: string): StartupError {
  if (error instanceof StartupError) return error;
  if (error instanceof EmbeddedDatabaseError) return new StartupError(error.message, { cause: error });
  const e = error as NodeJS.ErrnoException;
  const inUse = /in use by process (\d+)/.exec(e?.message ?? "");
  if (inUse) {
    return new StartupError(
      `The data directory ${dataDir} is in use by process ${inUse[1]} (another \`make run\`, \`npm run dev\` or \`npm run migrate\`): stop it first, or set DATA_DIR to another directory.`,
      { cause: error },
    );
  }
  if (e?.code && ["EACCES", "EPERM", "EROFS", "ENOTDIR", "EEXIST", "ENOSPC"].includes(e.code)) {
    return new StartupError(
      `Cannot use the data directory ${dataDir} (${firstLine(e.message)}): set DATA_DIR to a writable directory, or fix this one's permissions.`,
      { cause: error },
    );
  }
  return new StartupError(
    `The embedded database in ${dataDir} could not be opened (${firstLine(e?.message ?? String(error))}): if it is damaged, move it aside or delete it (\`make clean\` starts afresh), or set DATA_DIR elsewhere.`,
    { cause: error },
  );
}

/** host:port/database, never the password. */
export function describeDatabaseUrl(url: string): string {
  const { hostname, port, database } = parseUrl(url);
  return `${hostname}:${port}/${database}`;
}

function parseUrl(url: string): { hostname: string; port: string; username: string; database: string } {
  try {
    const parsed = new URL(url);
    return {
      hostname: parsed.hostname || "localhost",
      port: parsed.port || "5432",
      username: decodeURIComponent(parsed.username) || "(default)",
      database: decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "(default)",
    };
  } catch {
    return { hostname: "?", port: "?", username: "?", database: "?" };
  }
}

function firstLine(text: string): string {
  const line =
    text
      .split("\n")
      .find((l) => l.trim() !== "")
      ?.trim() ?? "unknown error";
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
