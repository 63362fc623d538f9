// nginx (Debian's package) running ops/nginx/order-service.conf in front of the given replicas.
// Only what belongs to the host differs from what ops/ ships: the main config (pid, temp paths),
// the listening port and the upstream list.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "../src/infra/project-root.js";
import { freePort } from "./postgres-cluster.js";
import { startServiceProcess, type ServiceProcess } from "./service-process.js";

export interface Nginx {
  baseUrl: string;
  port: number;
  /** The JSON access log lines so far. */
  accessLog(): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

const NGINX = process.env.NGINX_BIN ?? "/usr/sbin/nginx";

export async function startNginx(upstreams: string[]): Promise<Nginx> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "order-service-nginx-"));
  await chmod(dir, 0o755); // nginx's workers (an unprivileged user when the tests run as root) use the temp paths
  const siteDir = join(dir, "order-service");
  await mkdir(siteDir);
  const shipped = await readFile(join(PROJECT_ROOT, "ops/nginx/order-service.conf"), "utf8");
  const accessLog = join(dir, "access.log");
  const local = { "listen 8080;": `listen 127.0.0.1:${port};`, "access_log /dev/stdout ": `access_log ${accessLog} ` };
  let site = shipped;
  for (const [from, to] of Object.entries(local)) {
    if (!site.includes(from)) throw new Error(`ops/nginx/order-service.conf no longer has \`${from}\`: update support/nginx.ts`);
    site = site.replace(from, to);
  }
  await writeFile(join(siteDir, "order-service.conf"), site);
  await writeFile(join(siteDir, "upstreams.conf"), upstreams.map((address) => `server ${address} max_fails=2 fail_timeout=5s;\n`).join(""));
  await writeFile(
    join(dir, "nginx.conf"),
    [
      "daemon off;",
      "worker_processes 2;",
      `pid ${dir}/nginx.pid;`,
      "error_log stderr warn;",
      "events { worker_connections 1024; }",
      "http {",
      ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `  ${kind}_temp_path ${dir}/${kind}_temp;`),
      "  include order-service/order-service.conf;",
      "}",
    ].join("\n"),
  );
  const server: ServiceProcess = await startServiceProcess(NGINX, ["-p", dir, "-c", join(dir, "nginx.conf")], port);
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    accessLog: async () =>
      (await readFile(accessLog, "utf8"))
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return []; // a line being written
          }
        }),
    async stop() {
      await server.stop("SIGTERM");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
