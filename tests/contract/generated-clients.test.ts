// Clients generated from openapi.yaml by tools client teams use, with only their documented
// options (docs/guides/generated-clients.md): each generates, compiles under `tsc --strict` with
// its flow (tests/contract/client-flows/<tool>.ts), and runs the flow against the service over
// TCP: log in, create a product, register, order, read it back, list with keyword and
// max_price, cancel. openapi-zod-client's zod schemas validate every answer, the error too.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN } from "../../support/admin.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { validPassword } from "../helpers/factories.js";

const run = promisify(execFile);
const FLOWS = "tests/contract/client-flows";
const OUT = "artifacts/generated-clients";

/** Each generator's documented command, writing into `<dir>/client`. */
const GENERATORS: Record<string, (dir: string) => string[]> = {
  kubb: () => ["kubb", "generate", "--config", `${FLOWS}/kubb.config.ts`],
  "openapi-zod-client": (dir) => [
    "openapi-zod-client",
    "openapi.yaml",
    "--output",
    `${dir}/client/client.ts`,
    "--media-type-expr",
    "mediaType === 'application/json' || mediaType === 'application/problem+json'",
  ],
  "hey-api": (dir) => ["openapi-ts", "--input", "openapi.yaml", "--output", `${dir}/client`],
  oazapfts: (dir) => ["oazapfts", "openapi.yaml", `${dir}/client/client.ts`],
  "typed-openapi": (dir) => ["typed-openapi", "openapi.yaml", "--output", `${dir}/client/client.ts`],
  "swagger-typescript-api": (dir) => ["swagger-typescript-api", "generate", "--path", "openapi.yaml", "--output", `${dir}/client`, "--name", "client.ts"],
  "orval-axios": (dir) => ["orval", "--input", "openapi.yaml", "--output", `${dir}/client/client.ts`, "--client", "axios"],
  // Its config reads the service's address from SERVICE_URL.
  "orval-fetch": () => ["orval", "--config", `${FLOWS}/orval-fetch.config.ts`],
};

/** `tsc --strict` over the flow and everything it imports; kubb writes `.ts` import paths. */
const STRICT = ["--noEmit", "--strict", "--skipLibCheck", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler"];
const COMPILE = [...STRICT, "--allowImportingTsExtensions", "--lib", "es2022,dom,dom.iterable", "--types", "node"];

let t: TestApp;
let baseUrl: string;
beforeAll(async () => {
  t = await startTestApp();
  baseUrl = await t.app.listen({ host: "127.0.0.1", port: 0 });
});
afterAll(() => t.close());

describe.each(Object.keys(GENERATORS))("%s", (tool) => {
  it("generates, compiles under --strict and runs the flow", async () => {
    const dir = join(OUT, tool);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, "client"), { recursive: true });
    copyFileSync(join(FLOWS, "flow-io.ts"), join(dir, "flow-io.ts"));
    copyFileSync(join(FLOWS, `${tool}.ts`), join(dir, "flow.ts"));

    const [command, ...args] = GENERATORS[tool]!(dir);
    await run("npx", ["--no-install", command!, ...args], { maxBuffer: 1 << 24, env: { ...process.env, SERVICE_URL: baseUrl } });
    await run("npx", ["--no-install", "tsc", ...COMPILE, join(dir, "flow.ts")], { maxBuffer: 1 << 24 }).catch((error: { stdout: string }) => {
      throw new Error(`tsc --strict refused ${tool}'s client:\n${error.stdout}`);
    });

    const suffix = `${tool}-${process.pid}-${Date.now()}`;
    const input = {
      baseUrl,
      admin: ADMIN,
      user: { name: `client ${suffix}`, password: validPassword() },
      productName: `Kettle ${suffix}`,
      keyword: suffix,
    };
    const { stdout } = await run(process.execPath, ["--import", "tsx", join(dir, "flow.ts")], { env: { ...process.env, FLOW_INPUT: JSON.stringify(input) } });
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!);

    expect(result.product).toMatchObject({ name: input.productName, price: "2.500", stock: 10 });
    const line = { product_id: result.product.id, name: input.productName, quantity: 3, unit_price: "2.500", line_total: "7.500" };
    expect(result.order).toMatchObject({ status: "created", cancelled_at: null, items: [line], total: "7.500" });
    expect(result.readBack).toEqual(result.order);
    expect(result.listed).toEqual([input.productName]);
    expect(result.cancelled).toMatchObject({ id: result.order.id, status: "cancelled", cancelled_at: expect.any(String), items: [line] });
    if (tool === "openapi-zod-client") expect(result.refusal).toEqual({ status: 409, code: "order-already-cancelled" });
    const stock = await t.request({ url: `/api/product/${result.product.id}`, token: await t.adminToken() });
    expect(stock.json().stock).toBe(10);
  }, 180_000);
});
