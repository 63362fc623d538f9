// A real Prometheus scrapes two replicas: what ops/prometheus ships passes promtool, and after
// traffic (and a database pause and a Redis crash) every Grafana panel's query and every alert
// rule, evaluated through Prometheus' HTTP API, returns data; the alerts that the incidents
// should raise are raised. The rules' own unit tests (ops/prometheus/tests/) run under promtool.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations } from "../../src/infra/db/migrations.js";
import { PROJECT_ROOT } from "../../src/infra/project-root.js";
import { parse } from "yaml";
import { assertMatchesSpec } from "../helpers/contract.js";
import { createDatabase, databaseUrl } from "../helpers/database-setup.js";
import { send, type Call } from "../helpers/http-client.js";
import { startPostgresCluster, type PostgresCluster } from "../../support/postgres-cluster.js";
import { startPrometheus, type Prometheus } from "../helpers/prometheus.js";
import { startRedisServer, type RedisServer } from "../../support/redis-server.js";
import { startReplicas, type Replicas } from "../helpers/replicas.js";

const run = promisify(execFile);
const JOB = "order-service";

let cluster: PostgresCluster;
let redis: RedisServer;
let stack: Replicas;
let prometheus: Prometheus;
let token: string;

async function call(baseUrl: string, request: Call) {
  const answer = await send(baseUrl, request);
  assertMatchesSpec(request.method, request.path, answer);
  return answer;
}

/** Requests of every kind, on both replicas, through nginx and directly. */
async function traffic(rounds: number, productId: number) {
  const targets = [stack.nginx.baseUrl, ...stack.replicas.map((replica) => replica.baseUrl)];
  for (let round = 0; round < rounds; round++) {
    await Promise.all(
      targets.flatMap((target) => [
        call(target, { method: "GET", path: "/api/product/?limit=5", token }),
        call(target, { method: "GET", path: `/api/product/${productId}`, token }),
        call(target, { method: "POST", path: "/api/order/", token, body: { products: [{ id: productId, quantity: 1 }] } }),
        call(target, { method: "POST", path: "/api/order/", token, body: { products: [{ id: productId, quantity: 5_000 }] } }),
        call(target, { method: "GET", path: "/api/order/", token }),
        call(target, { method: "GET", path: "/api/nothing-here" }),
        call(target, { method: "GET", path: "/readyz" }),
      ]),
    );
  }
}

const firing = async () =>
  new Set((await prometheus.alerts()).filter((alert) => ["pending", "firing"].includes(alert.state)).map((alert) => alert.labels.alertname));

/** Waits until each of `names` is pending or firing; returns the names that never were. */
async function awaitAlerts(names: string[], seconds = 30): Promise<string[]> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const raised = await firing();
    const missing = names.filter((name) => !raised.has(name));
    if (missing.length === 0 || Date.now() > deadline) return missing;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

beforeAll(async () => {
  [cluster, redis] = await Promise.all([startPostgresCluster({ durable: true }), startRedisServer()]);
  await createDatabase(cluster.url, "shop");
  const url = databaseUrl(cluster.url, "shop");
  await applyMigrations(url);
  stack = await startReplicas(2, { DATABASE_URL: url, REDIS_URL: redis.url, TRUST_PROXY: "true", DB_POOL_MAX: "5", LOGIN_RATE_LIMIT_PER_MINUTE: "1000" });
  prometheus = await startPrometheus(
    stack.replicas.map((replica) => new URL(replica.baseUrl).host),
    JOB,
  );
  token = (await call(stack.replicas[0]!.baseUrl, { method: "POST", path: "/api/token/", body: { name: "admin", password: "12345" } })).json().access;
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await stack?.stop();
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

describe("Prometheus", () => {
  it("accepts the shipped config and rules (promtool)", async () => {
    const config = await run("promtool", ["check", "config", fromRoot("ops/prometheus/prometheus.yml")]);
    expect(config.stdout).toMatch(/SUCCESS: 1 rule files found/);
    const checked = await run("promtool", ["check", "rules", fromRoot("ops/prometheus/rules/order-service.yml")]);
    expect(checked.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("passes the rules' unit tests: each alert fires on the series that should raise it and on no other (promtool)", async () => {
    const tested = await run("promtool", ["test", "rules", fromRoot("ops/prometheus/tests/order-service.test.yml")]);
    expect(tested.stdout).toMatch(/SUCCESS/);
    expect(tested.stdout).not.toMatch(/FAILED/);
  });

  it("scrapes the replicas; every dashboard query and alert rule returns data; incidents raise their alerts", async () => {
    const [a] = stack.replicas.map((replica) => replica.baseUrl) as [string];
    const created = await call(a, { method: "POST", path: "/api/product/", token, body: { name: "Scraped Tea", price: "3", stock: 1_000 } });
    const productId = created.json().id as number;
    for (const target of [a, stack.nginx.baseUrl]) {
      expect((await call(target, { method: "POST", path: "/api/token/", body: { name: "admin", password: "wrong" } })).statusCode).toBe(401);
    }
    await traffic(3, productId);
    await expect.poll(async () => (await prometheus.query(`up{job="${JOB}"} == 1`)).length, { timeout: 20_000 }).toBe(2);

    // The database goes away: 503s, readiness fails.
    await cluster.pause();
    try {
      // Clients keep calling through the outage, so that its 5xx span several scrapes (a series'
      // first sample is not an increase for rate()).
      let outage = true;
      const statuses = new Set<number>();
      const clients = stack.replicas.map(async (replica) => {
        while (outage) {
          statuses.add((await call(replica.baseUrl, { method: "GET", path: "/api/product/", token })).statusCode);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      });
      const missing = await awaitAlerts(["OrderServiceNotReady", "OrderServiceHigh5xxRatio"]);
      outage = false;
      await Promise.all(clients);
      expect(statuses).toEqual(new Set([503]));
      expect(missing).toEqual([]);
    } finally {
      await cluster.resume();
    }
    await expect.poll(async () => (await send(a, { method: "GET", path: "/readyz" })).statusCode, { timeout: 30_000, interval: 250 }).toBe(200);

    // Redis crashes: requests are still served, the store is reported down.
    await redis.kill();
    try {
      const login = await call(stack.nginx.baseUrl, { method: "POST", path: "/api/token/", body: { name: "admin", password: "12345" } });
      expect(login.statusCode).toBe(200);
      expect(await awaitAlerts(["OrderServiceRateLimitStoreDown"])).toEqual([]);
    } finally {
      await redis.start();
    }
    await traffic(3, productId);
    expect(await awaitAlerts(["OrderServiceOrdersDeclinedForStock"])).toEqual([]);

    // Buyers undo a third of the orders: 10 cancels against the 28 orders placed so far.
    for (let i = 0; i < 10; i++) {
      const placed = await call(a, { method: "POST", path: "/api/order/", token, body: { products: [{ id: productId, quantity: 1 }] } });
      expect(placed.statusCode).toBe(201);
      const cancelled = await call(a, { method: "POST", path: `/api/order/${placed.json().id}/cancel`, token });
      expect(cancelled.json()).toMatchObject({ id: placed.json().id, status: "cancelled" });
    }
    expect(await awaitAlerts(["OrderServiceHighCancellationRatio"])).toEqual([]);
    // Two more scrapes after the last traffic.
    await new Promise((resolve) => setTimeout(resolve, 4_500));

    // Every panel's query, with Grafana's variables as Grafana would fill them.
    const dashboard = JSON.parse(await readFile(fromRoot("ops/grafana/dashboards/order-service.json"), "utf8"));
    const panels = (dashboard.panels as any[]).flatMap((panel) => [panel, ...(panel.panels ?? [])]).filter((panel) => panel.type !== "row");
    const queries = panels.flatMap((panel) => (panel.targets ?? []).map((target: { expr: string }) => ({ panel: panel.title as string, expr: target.expr })));
    expect(queries.length).toBeGreaterThan(10);
    for (const { panel, expr } of queries) {
      const filled = expr.replaceAll("$job", JOB).replaceAll("$__rate_interval", "1m").replaceAll("$__range", "5m");
      expect(filled, `${panel}: a Grafana variable left`).not.toMatch(/\$/);
      const series = await prometheus.query(filled);
      expect(series.length, `${panel}: ${filled} returned nothing`).toBeGreaterThan(0);
      expect(
        series.some((s) => Number.isFinite(Number(s.value[1]))),
        `${panel}: ${filled} returned no number`,
      ).toBe(true);
    }

    // Every alert rule: loaded, evaluated without error, and its expression returns a series for
    // what it watches (with `bool`, so that a healthy value counts too).
    const shipped = parse(await readFile(fromRoot("ops/prometheus/rules/order-service.yml"), "utf8")) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const alerts = shipped.groups.flatMap((group) => group.rules);
    expect(alerts.map((rule) => rule.alert)).toEqual(
      expect.arrayContaining([
        "OrderServiceHigh5xxRatio",
        "OrderServiceHighLatencyP99",
        "OrderServiceDbPoolSaturated",
        "OrderServiceOverloaded",
        "OrderServiceNotReady",
        "OrderServiceRateLimitStoreDown",
        "OrderServiceOrdersDeclinedForStock",
        "OrderServiceHighCancellationRatio",
        "OrderServiceReadReplicaLagging",
        "OrderServiceWebhookBacklogGrowing",
      ]),
    );
    const loaded = await prometheus.rules();
    for (const rule of alerts) {
      const state = loaded.find((candidate) => candidate.name === rule.alert);
      expect(state?.health, `${rule.alert}: ${state?.lastError}`).toBe("ok");
      const comparison = /\s(>=|<=|==|!=|>|<)\s*(-?[\d.]+)\s*$/;
      expect(rule.expr, `${rule.alert} must end in a comparison with a threshold`).toMatch(comparison);
      const measured = rule.expr.trim().replace(comparison, " $1 bool $2");
      const series = await prometheus.query(measured);
      expect(series.length, `${rule.alert}: ${measured} returned nothing`).toBeGreaterThan(0);
    }
  }, 120_000);
});

function fromRoot(path: string): string {
  return `${PROJECT_ROOT}/${path}`;
}
