// A highly available PostgreSQL for failover tests, as production runs it with Patroni: etcd,
// two Patroni-managed PostgreSQL nodes with synchronous replication, and HAProxy in front with a
// primary port (OPTIONS /primary on Patroni's REST API) and a replica port (OPTIONS /replica).
// Every process runs on 127.0.0.1 from Debian's packages (patroni, etcd-server, haproxy), with
// its files in one temp directory deleted by stop().
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import { BIN_DIR, freePort, systemUser } from "./postgres-cluster.js";
import { startServiceProcess, type ServiceProcess } from "./service-process.js";

const run = promisify(execFile);

export interface PatroniNode {
  name: string;
  /** PostgreSQL's own port (bypassing HAProxy). */
  pgPort: number;
  restPort: number;
  /** URL of this node's `postgres` database as the superuser. */
  url: string;
  /** Whether Patroni runs (false after kill(), until start()). */
  running(): boolean;
}

export interface PatroniCluster {
  /** URL of the `postgres` database through HAProxy's primary port (follows the leader). */
  primaryUrl: string;
  /** Through HAProxy's replica port (streaming replicas only). */
  replicaUrl: string;
  nodes: PatroniNode[];
  /** The node holding the leader key whose PostgreSQL accepts writes (waits for one). */
  leader(timeoutMs?: number): Promise<PatroniNode>;
  /** Waits until `node` streams from the leader as its synchronous standby. */
  waitForSyncStandby(node: PatroniNode, timeoutMs?: number): Promise<void>;
  /** SIGKILLs the node's postmaster alone: Patroni restarts it (crash recovery). */
  killPostmaster(node: PatroniNode): Promise<void>;
  /** SIGKILLs Patroni, then the postmaster: the node is gone, as when its machine dies. */
  killNode(node: PatroniNode): Promise<void>;
  /** Starts a killed node's Patroni again (it rejoins as a replica). */
  startNode(node: PatroniNode): Promise<void>;
  /** A planned switchover with patronictl, from the current leader to `candidate`. */
  switchover(candidate: PatroniNode): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

interface NodeState extends PatroniNode {
  configFile: string;
  dataDir: string;
  process?: ServiceProcess;
}

const PATRONI = process.env.PATRONI_BIN ?? "/usr/bin/patroni";
const PATRONICTL = process.env.PATRONICTL_BIN ?? "/usr/bin/patronictl";
const ETCD = process.env.ETCD_BIN ?? "/usr/bin/etcd";
const HAPROXY = process.env.HAPROXY_BIN ?? "/usr/sbin/haproxy";
const SCOPE = "order-service-test";
/** Patroni needs all of PostgreSQL's programs (pg_controldata, pg_rewind…), not only the initdb and pg_ctl found on PATH. */
const PG_BIN_DIR = dirname(realpathSync(join(BIN_DIR, "pg_ctl")));

export async function startPatroniCluster(options: { nodes?: number } = {}): Promise<PatroniCluster> {
  const owner = process.getuid?.() === 0 ? await systemUser("postgres") : undefined;
  const dir = await mkdtemp(join(tmpdir(), "order-service-patroni-"));
  if (owner) await chown(dir, owner.uid, owner.gid);
  const password = randomBytes(18).toString("base64url");
  const processes: ServiceProcess[] = [];
  const nodes: NodeState[] = [];
  let etcd: ServiceProcess | undefined;
  let haproxy: ServiceProcess | undefined;

  const stop = async () => {
    await haproxy?.stop("SIGKILL");
    await Promise.all(nodes.map((node) => killNode(node, "SIGQUIT")));
    await etcd?.stop("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  };

  /** Patroni first (so it restarts nothing), then the postmaster (SIGQUIT: an immediate shutdown ending its backends too). */
  async function killNode(node: NodeState, postmasterSignal: NodeJS.Signals) {
    await node.process?.stop("SIGKILL");
    node.process = undefined;
    const pid = await postmasterPid(node.dataDir);
    if (pid) signal(pid, postmasterSignal);
    if (pid) await until(() => Promise.resolve(!alive(pid)), 15_000, `${node.name}'s postmaster did not exit`);
  }

  async function startNode(node: NodeState) {
    node.process = await startServiceProcess(PATRONI, [node.configFile], node.restPort, {
      uid: owner?.uid,
      gid: owner?.gid,
      env: { PATH: process.env.PATH, HOME: dir, LANG: "C.UTF-8" },
      // Its own directory: the postgres user may not enter this checkout's (a clone under `mktemp -d` is 0700).
      cwd: dir,
      timeoutMs: 60_000,
    });
    processes.push(node.process);
  }

  try {
    const [etcdClient, etcdPeer, primaryPort, replicaPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const etcdDir = join(dir, "etcd");
    etcd = await startServiceProcess(
      ETCD,
      [
        "--name=etcd",
        `--data-dir=${etcdDir}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=etcd=http://127.0.0.1:${etcdPeer}`,
        "--log-level=warn",
      ],
      etcdClient,
    );
    processes.push(etcd);

    for (let i = 1; i <= (options.nodes ?? 2); i++) {
      const [pgPort, restPort] = [await freePort(), await freePort()];
      const name = `node${i}`;
      const nodeDir = join(dir, name);
      await mkdir(nodeDir, { mode: 0o700 });
      if (owner) await chown(nodeDir, owner.uid, owner.gid);
      const dataDir = join(nodeDir, "data");
      const configFile = join(nodeDir, "patroni.yml");
      await writeFile(configFile, patroniConfig({ name, nodeDir, dataDir, pgPort, restPort, etcdClient, password }));
      if (owner) await chown(configFile, owner.uid, owner.gid);
      const url = `postgres://postgres:${password}@127.0.0.1:${pgPort}/postgres`;
      const node: NodeState = { name, pgPort, restPort, url, configFile, dataDir, running: () => node.process !== undefined };
      nodes.push(node);
    }
    // The first node bootstraps the cluster; the others then copy it (pg_basebackup).
    await startNode(nodes[0]!);
    await until(() => isRole(nodes[0]!, "primary"), 60_000, "the first node did not become the leader");
    await Promise.all(nodes.slice(1).map((node) => startNode(node)));
    await Promise.all(nodes.slice(1).map((node) => until(() => isRole(node, "replica"), 60_000, `${node.name} did not become a replica`)));

    const haproxyConfig = join(dir, "haproxy.cfg");
    await writeFile(haproxyConfig, haproxyConfigText(primaryPort, replicaPort, nodes));
    haproxy = await startServiceProcess(HAPROXY, ["-db", "-f", haproxyConfig], primaryPort);
    processes.push(haproxy);
    const primaryUrl = `postgres://postgres:${password}@127.0.0.1:${primaryPort}/postgres`;
    const replicaUrl = `postgres://postgres:${password}@127.0.0.1:${replicaPort}/postgres`;
    // HAProxy counts a server up until its checks fail: wait until only the right nodes remain.
    await until(() => routesTo(primaryUrl, false), 30_000, "HAProxy's primary port still reaches a replica");
    await until(() => routesTo(replicaUrl, true), 30_000, "HAProxy's replica port still reaches the primary");

    const cluster: PatroniCluster = {
      primaryUrl,
      replicaUrl,
      nodes,
      async leader(timeoutMs = 60_000) {
        let found: PatroniNode | undefined;
        await until(
          async () => {
            for (const node of nodes) if (node.running() && (await isRole(node, "primary"))) found = node;
            return found !== undefined;
          },
          timeoutMs,
          "no leader",
        );
        return found!;
      },
      async waitForSyncStandby(node, timeoutMs = 60_000) {
        const log = () => (node as NodeState).process?.output().slice(-6_000) ?? "(not running)";
        await until(
          () => isRole(node, "sync"),
          timeoutMs,
          () => `${node.name} did not become the synchronous standby; its Patroni said:\n${log()}`,
        );
      },
      async killPostmaster(node) {
        const pid = await postmasterPid((node as NodeState).dataDir);
        if (!pid) throw new Error(`${node.name} has no postmaster`);
        signal(pid, "SIGKILL");
      },
      killNode: (node) => killNode(node as NodeState, "SIGKILL"),
      startNode: (node) => startNode(node as NodeState),
      async switchover(candidate) {
        const leader = await cluster.leader();
        await run(PATRONICTL, ["-c", (leader as NodeState).configFile, "switchover", SCOPE, "--leader", leader.name, "--candidate", candidate.name, "--force"]);
      },
      output: () => processes.map((p) => p.output()).join("\n"),
      stop,
    };
    return cluster;
  } catch (error) {
    const output = processes
      .map((p) => p.output())
      .join("\n")
      .slice(-8_000);
    await stop();
    throw new Error(`Could not start a Patroni cluster: ${(error as Error).message}\n${output}`, { cause: error });
  }
}

/** Patroni's REST API: 200 from OPTIONS /primary, /replica (streaming, replication lag within bounds) or /sync. */
async function isRole(node: PatroniNode, role: "primary" | "replica" | "sync"): Promise<boolean> {
  const answer = await fetch(`http://127.0.0.1:${node.restPort}/${role}`, { method: "OPTIONS", signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
  return answer?.status === 200;
}

/** True when several connections in a row through `url` all reach a server in (or out of) recovery. */
async function routesTo(url: string, inRecovery: boolean): Promise<boolean> {
  for (let i = 0; i < nodesToProbe; i++) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    client.on("error", () => {});
    try {
      await client.connect();
      const { rows } = await client.query<{ recovery: boolean }>("SELECT pg_is_in_recovery() AS recovery");
      if (rows[0]?.recovery !== inRecovery) return false;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  }
  return true;
}
const nodesToProbe = 4;

async function until(probe: () => Promise<boolean>, timeoutMs: number, failure: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(typeof failure === "string" ? failure : failure());
    await sleep(100);
  }
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, "postmaster.pid"), "utf8").catch(() => "");
  const pid = Number(text.split("\n")[0]);
  return pid > 0 && alive(pid) ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function patroniConfig(o: { name: string; nodeDir: string; dataDir: string; pgPort: number; restPort: number; etcdClient: number; password: string }): string {
  // JSON is YAML: no quoting rules to get wrong.
  return JSON.stringify(
    {
      scope: SCOPE,
      name: o.name,
      log: { level: "INFO" },
      restapi: { listen: `127.0.0.1:${o.restPort}`, connect_address: `127.0.0.1:${o.restPort}` },
      etcd3: { hosts: [`127.0.0.1:${o.etcdClient}`] },
      bootstrap: {
        // Fails over in about 10 s: the leader key expires after ttl, checked every loop_wait.
        dcs: {
          ttl: 10,
          loop_wait: 2,
          retry_timeout: 3,
          maximum_lag_on_failover: 1_048_576,
          // A commit is acknowledged only once the standby has it: a failover loses no acknowledged order.
          synchronous_mode: true,
          postgresql: {
            use_pg_rewind: true,
            parameters: { wal_log_hints: "on", max_connections: 200, max_wal_senders: 10, max_replication_slots: 10, hot_standby: "on" },
          },
        },
        initdb: [{ encoding: "UTF8" }, { locale: "C" }, "data-checksums"],
      },
      postgresql: {
        listen: `127.0.0.1:${o.pgPort}`,
        connect_address: `127.0.0.1:${o.pgPort}`,
        data_dir: o.dataDir,
        bin_dir: PG_BIN_DIR,
        pgpass: join(o.nodeDir, "pgpass"),
        // A former leader that pg_rewind cannot bring back is copied afresh from the new one, as
        // an operator would reinitialise it, instead of staying down.
        remove_data_directory_on_rewind_failure: true,
        remove_data_directory_on_diverged_timelines: true,
        authentication: {
          superuser: { username: "postgres", password: o.password },
          replication: { username: "replicator", password: o.password },
          rewind: { username: "postgres", password: o.password },
        },
        pg_hba: ["local all all trust", "host all all 127.0.0.1/32 scram-sha-256", "host replication replicator 127.0.0.1/32 scram-sha-256"],
        // Durability against process crashes is what the tests need; an fsync per commit is not.
        parameters: { unix_socket_directories: o.nodeDir, fsync: "off", password_encryption: "scram-sha-256" },
      },
      tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
    },
    null,
    2,
  );
}

function haproxyConfigText(primaryPort: number, replicaPort: number, nodes: PatroniNode[]): string {
  // Checks every 500 ms; a node that stops being the primary has its sessions cut at once.
  const servers = (check: string) =>
    `${nodes.map((node) => `  server ${node.name} 127.0.0.1:${node.pgPort} check port ${node.restPort}`).join("\n")}\n  option httpchk OPTIONS ${check}\n`;
  return `global
  maxconn 2000
defaults
  mode tcp
  timeout connect 2s
  timeout client 30m
  timeout server 30m
  timeout check 1s
  default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
listen primary
  bind 127.0.0.1:${primaryPort}
  http-check expect status 200
${servers("/primary")}
listen replicas
  bind 127.0.0.1:${replicaPort}
  balance roundrobin
  http-check expect status 200
${servers("/replica")}
`;
}
