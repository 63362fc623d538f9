// The build the first `make run` makes (scripts/build.mjs: Node strips the types, no TypeScript
// installed) is the service: built into a folder of its own, started the way `make run` starts
// dist/ (instrumentation first), on a fresh embedded database, it serves a signed-in admin's
// writes and reads and the docs page's Redoc bundle.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../support/postgres-cluster.js";
import { spawnProcess, type ServiceProcess, waitUntilReady } from "../../support/service-process.js";

const run = promisify(execFile);
// Beside dist/, at the same depth (src/infra/project-root.ts finds openapi.yaml from there).
const outDir = `dist-test-${process.pid}`;

describe("the run's build (scripts/build.mjs)", () => {
  let service: ServiceProcess;
  let baseUrl: string;
  let dataDir: string;
  let buildOutput: string;

  beforeAll(async () => {
    buildOutput = (await run(process.execPath, ["--disable-warning=ExperimentalWarning", "scripts/build.mjs", outDir])).stdout;
    dataDir = await mkdtemp(join(tmpdir(), "run-build-"));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    service = spawnProcess(process.execPath, ["--import", `./${outDir}/src/instrumentation.js`, `${outDir}/src/server.js`], {
      env: {
        ...process.env,
        NODE_ENV: "development",
        LOG_LEVEL: "info",
        HOST: "127.0.0.1",
        PORT: String(port),
        DATA_DIR: dataDir,
        ADMIN_PASSWORD: "built-and-run",
      },
      keepOutputChars: Number.POSITIVE_INFINITY,
    });
    const ready = () =>
      fetch(`${baseUrl}/readyz`).then(
        (answer) => answer.status === 200,
        () => false,
      );
    await waitUntilReady(service, "the built service", ready, { timeoutMs: 90_000, intervalMs: 100 });
  }, 120_000);

  afterAll(async () => {
    await service?.stop("SIGTERM", 15_000);
    await Promise.all([rm(outDir, { recursive: true, force: true }), dataDir && rm(dataDir, { recursive: true, force: true })]);
  });

  it("writes every source as JavaScript at the same lines and columns, without source maps", () => {
    expect(buildOutput).toMatch(/^Built \d+ files into dist-test-\d+\/ without type checking/);
    const source = readFileSync("src/infra/db/pool-wait.ts", "utf8").split("\n");
    const built = readFileSync(`${outDir}/src/infra/db/pool-wait.js`, "utf8").split("\n");
    expect(built).toHaveLength(source.length);
    const declaration = source.findIndex((line) => line.includes("readonly waitedMs: number;"));
    expect(built[declaration]).toBe(source[declaration]!.replace("readonly waitedMs: number;", "         waitedMs        ;"));
    expect(existsSync(`${outDir}/src/server.js`)).toBe(true);
    expect(existsSync(`${outDir}/src/server.js.map`)).toBe(false);
    expect(existsSync(`${outDir}/src/platform/unsampled-spans.test.js`)).toBe(false);
  });

  it("serves a signed-in admin's write and the read that follows", async () => {
    const token = await fetch(`${baseUrl}/api/token/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "admin", password: "built-and-run" }),
    });
    expect(token.status, service.output()).toBe(200);
    const { access } = (await token.json()) as { access: string };
    const auth = { authorization: `Bearer ${access}` };

    const created = await fetch(`${baseUrl}/api/product/`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ name: "Built kettle", price: "12.50", stock: "3" }),
    });
    expect(created.status, service.output()).toBe(201);
    const product = (await created.json()) as { id: number; name: string; price: string; stock: number };
    expect(product).toMatchObject({ name: "Built kettle", price: "12.500", stock: 3 });

    const read = await fetch(`${baseUrl}/api/product/${product.id}`, { headers: auth });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id: product.id, name: "Built kettle", price: "12.500", stock: 3 });
  });

  it("answers bad input with a problem document", async () => {
    const refused = await fetch(`${baseUrl}/api/token/`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(refused.status).toBe(400);
    expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await refused.json()).toMatchObject({ status: 400, code: "validation-failed" });
  });

  it("serves Redoc's standalone bundle on the docs page", async () => {
    const bundle = await fetch(`${baseUrl}/redoc/redoc.standalone.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("content-type")).toMatch(/^text\/javascript/);
    const text = await bundle.text();
    expect(text.length).toBeGreaterThan(500_000);
    expect(text).not.toContain("https://cdn.redoc.ly/redoc/logo-mini.svg");
  });
});
