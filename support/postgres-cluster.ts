// A throwaway PostgreSQL cluster for the test run: password auth, listening only on 127.0.0.1,
// durability off, deleted when stopped.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, realpathSync } from "node:fs";
import { access, chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import pg from "pg";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";

const run = promisify(execFile);
/**
 * Where initdb and pg_ctl are: PG_BIN_DIR, else the first PATH entry holding both, else the newest
 * /usr/lib/postgresql/<version>/bin (Debian and Ubuntu keep them off PATH).
 */
function findBinDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const hasBoth = (dir: string) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"));
  const onPath = (process.env.PATH ?? "").split(delimiter).find((dir) => dir !== "" && hasBoth(dir));
  if (onPath) return onPath;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  return join(root, versions[0] ?? "15", "bin");
}
export const BIN_DIR = findBinDir();

export interface PostgresCluster {
  /** URL of the `postgres` database, as a superuser. */
  url: string;
  stop(): Promise<void>;
  /** Kills the server (like a crash or a failover); the data stays for resume(). */
  pause(): Promise<void>;
  /** Starts the server again on the same port and data. */
  resume(): Promise<void>;
  /** Stops (SIGSTOP) the server and every backend: it accepts TCP connections but never answers. */
  freeze(): Promise<void>;
  /** Lets a frozen server run again (SIGCONT). */
  thaw(): Promise<void>;
}

/**
 * `durable: false` (the default, for speed) turns off fsync and synchronous commit; tests that
 * crash the server (pause) and count on committed data surviving need `durable: true`.
 */
export async function startPostgresCluster(options: { durable?: boolean } = {}): Promise<PostgresCluster> {
  const initdb = join(BIN_DIR, "initdb");
  const pgCtl = join(BIN_DIR, "pg_ctl");
  await access(initdb).catch(() => {
    throw new Error(
      `TEST_DB=postgres: no PostgreSQL binaries (initdb, pg_ctl) on PATH or at ${BIN_DIR}: install PostgreSQL, or set PG_BIN_DIR or TEST_DATABASE_URL`,
    );
  });

  // initdb refuses to run as root: run the binaries as the `postgres` user then.
  const owner = process.getuid?.() === 0 ? await systemUser("postgres") : undefined;
  const as = (command: string, args: string[]) => (owner ? run("runuser", ["-u", "postgres", "--", command, ...args]) : run(command, args));

  const dir = await mkdtemp(join(tmpdir(), "order-service-pg-"));
  const dataDir = join(dir, "data");
  const password = randomBytes(18).toString("base64url");
  const pwFile = join(dir, "pwfile");
  await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (owner) {
    await chown(dir, owner.uid, owner.gid);
    await chown(pwFile, owner.uid, owner.gid);
  }

  const stop = async () => {
    await as(pgCtl, ["-D", dataDir, "-m", "immediate", "-w", "stop"]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await as(initdb, [
      "-D",
      dataDir,
      "-U",
      "postgres",
      `--pwfile=${pwFile}`,
      "-A",
      "scram-sha-256",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ]);
    const port = await freePort();
    const settings = [
      "-c listen_addresses=127.0.0.1",
      `-c port=${port}`,
      `-c unix_socket_directories=${dir}`,
      ...(options.durable ? [] : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]),
      "-c max_connections=200",
    ].join(" ");
    const start = () => as(pgCtl, ["-D", dataDir, "-l", join(dir, "server.log"), "-o", settings, "-w", "-t", "60", "start"]);
    await start();
    return {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      stop,
      pause: async () => {
        await as(pgCtl, ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
      },
      resume: async () => {
        await start();
      },
      freeze: () => signalServer(dataDir, "SIGSTOP"),
      thaw: () => signalServer(dataDir, "SIGCONT"),
    };
  } catch (error) {
    await stop();
    throw new Error(`Could not start a throwaway PostgreSQL cluster: ${(error as Error).message}`, { cause: error });
  }
}

/** Sends a signal to this cluster's postmaster (by the pid in its data directory) and to its children. */
async function signalServer(dataDir: string, signal: NodeJS.Signals): Promise<void> {
  const postmaster = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
  const { stdout } = await run("ps", ["-o", "pid=", "--ppid", String(postmaster)]);
  const pids = [
    postmaster,
    ...stdout
      .split("\n")
      .map((line) => Number(line.trim()))
      .filter((pid) => pid > 0),
  ];
  // Children first when stopping (none may fork a replacement meanwhile), the postmaster first when resuming.
  for (const pid of signal === "SIGSTOP" ? pids.reverse() : pids) process.kill(pid, signal);
}

export async function systemUser(name: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * A port nothing listens on, for a server about to start. Taken below the kernel's ephemeral range
 * where there is room: a port from that range (what binding port 0 gives) can become the local
 * port of any outgoing connection on the machine before the server binds it, and then the server
 * fails with EADDRINUSE. Each process walks up from a random start, so it never hands out a port
 * twice and two processes rarely meet.
 */
export async function freePort(): Promise<number> {
  const below = await ephemeralRangeStart();
  if (below > FIXED_PORTS_FROM + 1_000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = nextPort === undefined || nextPort + 1 >= below ? FIXED_PORTS_FROM + Math.floor(Math.random() * (below - FIXED_PORTS_FROM)) : nextPort + 1;
      nextPort = port;
      if (await canListen(port)) return port;
    }
  }
  return listenOnce(0);
}

/** Ports below this are left to the machine's own services. */
const FIXED_PORTS_FROM = 10_000;
let nextPort: number | undefined;

/** The first port of the kernel's ephemeral range (Linux); elsewhere 0, so that port 0 is used. */
async function ephemeralRangeStart(): Promise<number> {
  const range = await readFile("/proc/sys/net/ipv4/ip_local_port_range", "utf8").catch(() => "");
  return Number(range.trim().split(/\s+/)[0]) || 0;
}

const canListen = (port: number) =>
  listenOnce(port).then(
    () => true,
    () => false,
  );

/** Listens on 127.0.0.1:`port` (0: any free port), closes again, and resolves with the port. */
function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export interface Standby {
  /** The standby's own URL (same user and password as the primary's). */
  url: string;
  /** Runs `sql` on the standby as the superuser (e.g. pg_wal_replay_pause()). */
  run(sql: string): Promise<void>;
  /** Stops the standby (immediate shutdown), as when the replica goes down. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** A hot standby streaming from the server at `primaryUrl` (a superuser's URL): pg_basebackup, then started on a port of its own. */
export async function startStandby(primaryUrl: string): Promise<Standby> {
  const pgCtl = join(BIN_DIR, "pg_ctl");
  const basebackup = join(dirname(realpathSync(pgCtl)), "pg_basebackup");
  const owner = process.getuid?.() === 0 ? await systemUser("postgres") : undefined;
  const as = (command: string, args: string[]) => (owner ? run("runuser", ["-u", "postgres", "--", command, ...args]) : run(command, args));
  const dir = await mkdtemp(join(tmpdir(), "order-service-standby-"));
  if (owner) await chown(dir, owner.uid, owner.gid);
  const dataDir = join(dir, "data");
  const stopServer = async () => {
    await as(pgCtl, ["-D", dataDir, "-m", "immediate", "-w", "stop"]).catch(() => {});
  };
  try {
    await as(basebackup, ["-d", primaryUrl, "-D", dataDir, "-R", "-X", "stream", "-c", "fast", "--no-sync"]);
    const port = await freePort();
    const settings = [
      `-c listen_addresses=127.0.0.1`,
      `-c port=${port}`,
      `-c unix_socket_directories=${dir}`,
      "-c hot_standby=on",
      "-c fsync=off",
      "-c max_connections=200",
    ].join(" ");
    await as(pgCtl, ["-D", dataDir, "-l", join(dir, "server.log"), "-o", settings, "-w", "-t", "60", "start"]);
    const url = new URL(primaryUrl);
    url.port = String(port);
    return {
      url: url.toString(),
      async run(sql) {
        const client = new pg.Client({ connectionString: url.toString() });
        await client.connect();
        try {
          await client.query(sql);
        } finally {
          await client.end();
        }
      },
      kill: stopServer,
      async stop() {
        await stopServer();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stopServer();
    const log = await readFile(join(dir, "server.log"), "utf8").catch(() => "");
    await rm(dir, { recursive: true, force: true });
    throw new Error(`Could not start a standby: ${(error as Error).message}\n${log.slice(-2_000)}`, { cause: error });
  }
}
