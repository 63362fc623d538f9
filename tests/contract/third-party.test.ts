// The spec judged by tools nobody here wrote, against a listening server on this run's database:
// - Portman turns openapi.yaml and its examples into a Postman collection with contract tests
//   (status, content type, JSON body, schema, documented headers); newman runs it as one scenario.
// - All that traffic, plus a representative set of error answers, goes through Prism's validating
//   proxy, which reports every request or response that breaks the spec in an `sl-violations` header.
// The figures land in artifacts/third-party/summary-<db>.txt.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { assertMatchesSpec } from "../helpers/contract.js";
import { specOperations } from "../helpers/spec-operations.js";

const require = createRequire(import.meta.url);
const newman = require("newman") as { run(options: object, done: (error: Error | null, summary: NewmanSummary) => void): void };
const versionOf = (name: string) => (require(`${name}/package.json`) as { version: string }).version;
const CONFIG = "tests/contract/portman-config.json";
const OUT = "artifacts/third-party";
const DB = process.env.TEST_DB ?? "pglite";

interface PostmanItem {
  name: string;
  item?: PostmanItem[];
  request?: { method: string; url: { path: string[] } };
}
interface NewmanSummary {
  run: {
    stats: { requests: { total: number; failed: number }; assertions: { total: number; failed: number } };
    failures: { error: { message: string; test?: string }; source?: { name?: string } }[];
    executions: {
      item: { name: string };
      request: { method: string; url: { getPathWithQuery(): string } };
      response?: { code: number; stream?: Buffer; headers: { get(name: string): string | undefined; toObject(): Record<string, string> } };
    }[];
  };
}
interface Violation {
  location: string[];
  severity: string;
  message: string;
}

let t: TestApp;
let prism: ChildProcess;
let prismUrl: string;
let prismOutput = "";

beforeAll(async () => {
  // A webhook delivery that fails is retried once at once, then failed: the scenario retries it by hand.
  t = await startTestApp({ WEBHOOK_RETRY_SCHEDULE_MS: "0", WEBHOOK_POLL_MS: 20 });
  const upstream = await t.app.listen({ host: "127.0.0.1", port: 0 });
  ({ child: prism, url: prismUrl } = await startPrismProxy(upstream));
}, 60_000);

afterAll(async () => {
  if (prism && prism.exitCode === null) {
    prism.kill("SIGTERM");
    await once(prism, "exit");
  }
  await t?.close();
});

describe("third-party contract tools", () => {
  let summary: NewmanSummary;
  let scenarioViolations: Violation[] = [];

  it("Portman's contract tests for every operation, run by newman from the spec's examples, all pass", async () => {
    mkdirSync(OUT, { recursive: true });
    const collectionFile = resolve(OUT, `collection-${DB}.json`);
    // Portman keeps its working files under ./tmp, so it runs in a directory of its own.
    const workDir = await mkdtemp(join(tmpdir(), "portman-"));
    try {
      const args = ["--local", resolve("openapi.yaml"), "--baseUrl", prismUrl, "--portmanConfigFile", resolve(CONFIG), "--output", collectionFile];
      await promisify(execFile)(process.execPath, [require.resolve("@apideck/portman/bin/portman"), ...args], { cwd: workDir, timeout: 90_000 });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
    const collection = inScenarioOrder(JSON.parse(readFileSync(collectionFile, "utf8")));
    summary = await new Promise((resolve, reject) => newman.run({ collection, reporters: [] }, (error, result) => (error ? reject(error) : resolve(result))));
    const { stats, failures, executions } = summary.run;
    const failed = failures.map((f) => `${f.source?.name}: ${f.error.test ?? ""} ${f.error.message}`);
    expect(failed).toEqual([]);
    // One execution per operation; beside them, the pre-request scripts' own requests (the order
    // fulfilOrder places to fulfil, the looks at a webhook delivery until it has failed).
    expect(new Set(executions.map((e) => e.item.name)).size).toBe(specOperations.length);
    expect(stats.requests.total).toBeGreaterThanOrEqual(specOperations.length + 2);
    expect(executions.map((e) => e.response?.code)).toEqual(executions.map(() => expect.any(Number)));
    expect(stats.assertions.total).toBeGreaterThanOrEqual(3 * specOperations.length);
    scenarioViolations = executions.flatMap((e) => violationsIn(e.response?.headers.get("sl-violations")));
    expect(scenarioViolations).toEqual([]);
    // Our own checker sees the same answers (and counts them for contract coverage).
    for (const { request, response } of executions) {
      const headers = Object.fromEntries(Object.entries(response!.headers.toObject()).map(([name, value]) => [name.toLowerCase(), value]));
      assertMatchesSpec(request.method, request.url.getPathWithQuery(), { statusCode: response!.code, headers, body: response!.stream?.toString() ?? "" });
    }
  }, 120_000);

  it("Prism's proxy finds no answer breaking the spec among the error answers either", async () => {
    const token = await t.adminToken();
    const user = await t.createUser();
    const json = { "content-type": "application/json" };
    const cases: { method: string; path: string; headers?: Record<string, string>; body?: string; status: number }[] = [
      { method: "GET", path: "/api/product/", status: 401 },
      { method: "GET", path: "/api/product/", headers: { authorization: "Bearer not-a-token" }, status: 401 },
      { method: "GET", path: "/api/user/", headers: { authorization: `Bearer ${user.access}` }, status: 403 },
      { method: "GET", path: "/api/product/99999", headers: { authorization: `Bearer ${token}` }, status: 404 },
      { method: "GET", path: "/api/product/?limit=1000", headers: { authorization: `Bearer ${token}` }, status: 400 },
      {
        method: "POST",
        path: "/api/product/",
        headers: { authorization: `Bearer ${token}`, ...json },
        body: '{"name":"","price":"x","stock":-1}',
        status: 400,
      },
      {
        method: "POST",
        path: "/api/order/",
        headers: { authorization: `Bearer ${token}`, ...json },
        body: '{"products":[{"id":99999,"quantity":1}]}',
        status: 400,
      },
      { method: "DELETE", path: "/api/order/", headers: { authorization: `Bearer ${token}` }, status: 405 },
      { method: "POST", path: "/api/token/", headers: { "content-type": "text/csv" }, body: "a,b", status: 415 },
      { method: "POST", path: "/api/token/", headers: json, body: '{"name":"admin","password":"wrong password"}', status: 401 },
      { method: "POST", path: "/api/token/refresh/", headers: json, body: '{"refresh":"not-a-token"}', status: 401 },
      { method: "GET", path: "/api/user/00000000-0000-4000-8000-000000000000", headers: { authorization: `Bearer ${token}` }, status: 404 },
      { method: "GET", path: "/api/user/not-a-uuid", headers: { authorization: `Bearer ${token}` }, status: 400 },
      { method: "PATCH", path: "/api/product/99999", headers: { authorization: `Bearer ${token}`, ...json }, body: '{"stock":1}', status: 404 },
      { method: "DELETE", path: "/api/product/99999", headers: { authorization: `Bearer ${token}` }, status: 404 },
      { method: "GET", path: "/api/order/99999", headers: { authorization: `Bearer ${token}` }, status: 404 },
      { method: "POST", path: "/api/register/", headers: json, body: JSON.stringify({ name: "x".repeat(100), password: "p".repeat(70_000) }), status: 413 },
      {
        method: "POST",
        path: "/api/order/",
        headers: { authorization: `Bearer ${user.access}`, "idempotency-key": "third-party-key", ...json },
        body: '{"products":[{"id":99999,"quantity":1}]}',
        status: 400,
      },
      { method: "GET", path: "/metrics", status: 200 },
      { method: "GET", path: "/healthz", status: 200 },
    ];
    // Not sent: a body that is not JSON at all, which Prism 5.16's proxy never answers (it hangs).
    const responseViolations: string[] = [];
    let requestFlags = 0;
    for (const c of cases) {
      const response = await fetch(`${prismUrl}${c.path}`, { method: c.method, headers: c.headers, body: c.body, signal: AbortSignal.timeout(10_000) });
      const body = await response.text();
      expect(response.status, `${c.method} ${c.path}: ${body}`).toBe(c.status);
      assertMatchesSpec(c.method, c.path, { statusCode: response.status, headers: Object.fromEntries(response.headers), body });
      // Invalid requests are meant to be flagged on the request side; the answers never may be.
      for (const v of violationsIn(response.headers.get("sl-violations") ?? undefined)) {
        if (v.location[0] === "response" || c.status < 400)
          responseViolations.push(`${c.method} ${c.path} → ${response.status}: ${v.location.join(".")} ${v.message}`);
        else requestFlags++;
      }
    }
    expect(responseViolations).toEqual([]);

    const stats = summary?.run.stats;
    const line =
      `third-party contract tools (${DB}): Portman ${versionOf("@apideck/portman")} + newman ${versionOf("newman")}: ` +
      `${stats?.requests.total} requests, ${stats?.assertions.total} assertions, ${stats?.assertions.failed} failed; ` +
      `Prism ${versionOf("@stoplight/prism-cli")} proxy: ${(stats?.requests.total ?? 0) + cases.length} requests, ` +
      `${scenarioViolations.length + responseViolations.length} violations ` +
      `(and ${requestFlags} request-side flags on the ${cases.filter((c) => c.status >= 400).length} deliberately invalid requests)`;
    console.log(line);
    writeFileSync(`${OUT}/summary-${DB}.txt`, `${line}\n`);
  }, 60_000);
});

/**
 * Portman groups requests in folders by tag and orders them within a folder only; the scenario
 * (product created, ordered, then removed) crosses folders, so the requests run as one list in
 * the config's orderOfOperations.
 */
function inScenarioOrder(collection: { item: PostmanItem[] }): { item: PostmanItem[] } {
  const order = (JSON.parse(readFileSync(CONFIG, "utf8")) as { globals: { orderOfOperations: string[] } }).globals.orderOfOperations;
  const key = (item: PostmanItem) => `${item.request!.method}::/${item.request!.url.path.join("/").replace(/:(\w+)/g, "{$1}")}`;
  const requests = collection.item.flatMap((item) => item.item ?? [item]);
  const rank = (item: PostmanItem) => {
    const index = order.indexOf(key(item));
    if (index === -1) throw new Error(`${key(item)} is missing from orderOfOperations in ${CONFIG}`);
    return index;
  };
  return { ...collection, item: requests.sort((a, b) => rank(a) - rank(b)) };
}

function violationsIn(header: string | undefined): Violation[] {
  return header ? (JSON.parse(header) as Violation[]) : [];
}

async function startPrismProxy(upstream: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [require.resolve("@stoplight/prism-cli/dist/index.js"), "proxy", "openapi.yaml", upstream, "--host", "127.0.0.1", "--port", "0", "--errors=false"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Prism did not start:\n${prismOutput}`)), 45_000);
    const onData = (chunk: Buffer) => {
      prismOutput += chunk.toString();
      const match = /Prism is listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(prismOutput);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", () => reject(new Error(`Prism exited:\n${prismOutput}`)));
  });
  return { child, url };
}
