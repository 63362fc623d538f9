// Prometheus (Debian's package) scraping the given replicas every 2 s, with the alert rules
// that ops/prometheus ships, queried through its HTTP API.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../src/infra/project-root.js";
import { freePort } from "../../support/postgres-cluster.js";
import { startServiceProcess } from "../../support/service-process.js";

export const PROMETHEUS_RULES = join(PROJECT_ROOT, "ops/prometheus/rules/*.yml");
const PROMETHEUS = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus";

export interface PromSeries {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Prometheus {
  baseUrl: string;
  /** An instant query; throws on a PromQL error. */
  query(expr: string): Promise<PromSeries[]>;
  /** Alerts that are pending or firing. */
  alerts(): Promise<{ labels: Record<string, string>; state: string }[]>;
  /** The loaded rule groups (health and last error of each rule). */
  rules(): Promise<{ name: string; type: string; query: string; health: string; lastError?: string }[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(targets: string[], job = "order-service"): Promise<Prometheus> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "order-service-prometheus-"));
  const config = {
    // A scrape may take a second on a busy machine (service_ready pings the database).
    global: { scrape_interval: "2s", scrape_timeout: "2s", evaluation_interval: "1s" },
    rule_files: [PROMETHEUS_RULES],
    scrape_configs: [{ job_name: job, metrics_path: "/metrics", static_configs: [{ targets }] }],
  };
  await writeFile(join(dir, "prometheus.yml"), JSON.stringify(config)); // JSON is YAML
  const server = await startServiceProcess(
    PROMETHEUS,
    [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    port,
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
    const response = await fetch(`${baseUrl}/api/v1/${path}?${new URLSearchParams(params)}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  };
  return {
    baseUrl,
    query: async (expr) => (await api<{ result: PromSeries[] }>("query", { query: expr })).result,
    alerts: async () => (await api<{ alerts: { labels: Record<string, string>; state: string }[] }>("alerts")).alerts,
    rules: async () => (await api<{ groups: { rules: any[] }[] }>("rules")).groups.flatMap((group) => group.rules),
    async stop() {
      await server.stop("SIGTERM");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
