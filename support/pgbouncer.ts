// PgBouncer (Debian's 1.18) in transaction mode on 127.0.0.1, in front of a PostgreSQL server,
// as a production deployment puts a transaction-mode pooler between the service and PostgreSQL.
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, systemUser } from "./postgres-cluster.js";
import { startServiceProcess, type ServiceProcess } from "./service-process.js";

export interface PgBouncer {
  /** `serverUrl` with PgBouncer's host and port instead: any database of the server, pooled. */
  url: string;
  port: number;
  output(): string;
  stop(): Promise<void>;
}

const PGBOUNCER = process.env.PGBOUNCER_BIN ?? "/usr/sbin/pgbouncer";

/**
 * `serverUrl` names the server and the one user PgBouncer lets in (with its password). The
 * statement and lock timeouts the service asks for at connection start cannot pass through
 * PgBouncer 1.18 (it refuses unknown startup parameters): it ignores them and sets them on each
 * server connection instead, as docs/guides/high-availability.md tells operators to.
 */
export async function startPgBouncer(serverUrl: string, options: { statementTimeoutMs?: number; lockTimeoutMs?: number } = {}): Promise<PgBouncer> {
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "order-service-pgbouncer-"));
  // PgBouncer refuses to run as root.
  const owner = process.getuid?.() === 0 ? await systemUser("postgres") : undefined;
  const quoted = (value: string) => `"${value.replace(/"/g, '""')}"`;
  await writeFile(join(dir, "userlist.txt"), `${quoted(user)} ${quoted(password)}\n`, { mode: 0o600 });
  const setup = `SET statement_timeout = ${options.statementTimeoutMs ?? 5_000}; SET lock_timeout = ${options.lockTimeoutMs ?? 3_000}`;
  await writeFile(
    join(dir, "pgbouncer.ini"),
    `[databases]
* = host=${server.hostname} port=${server.port || 5432} connect_query='${setup}'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${join(dir, "userlist.txt")}
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 10
; Below the server's max_connections (200) whatever the number of databases (a test file each):
; PgBouncer closes another database's idle server connection rather than fail a client. A test
; database's server connections end with it (DROP DATABASE … WITH (FORCE)).
max_user_connections = 150
; server_idle_timeout stays at PgBouncer's default (600 s), as docs/guides/high-availability.md
; says: PgBouncer opens a pool's server connections one at a time, each a full PostgreSQL login,
; so closing them after a few idle seconds made every burst after a pause queue behind serial
; logins, past the service's 3 s wait for a connection (503s under load).
ignore_startup_parameters = extra_float_digits,options,statement_timeout,lock_timeout
log_connections = 0
log_disconnections = 0
`,
  );
  if (owner) {
    for (const file of [dir, join(dir, "userlist.txt"), join(dir, "pgbouncer.ini")]) await chown(file, owner.uid, owner.gid);
  }
  let process_: ServiceProcess;
  try {
    process_ = await startServiceProcess(PGBOUNCER, [join(dir, "pgbouncer.ini")], port, { cwd: dir, uid: owner?.uid, gid: owner?.gid });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const pooled = new URL(serverUrl);
  pooled.hostname = "127.0.0.1";
  pooled.port = String(port);
  return {
    url: pooled.toString(),
    port,
    output: () => process_.output(),
    async stop() {
      await process_.stop("SIGINT");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
