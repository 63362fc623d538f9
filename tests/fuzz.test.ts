// Property-based fuzzing of every operation from openapi.yaml's schemas: valid and invalid
// parameters and bodies (wrong types, missing and extra fields, huge and negative numbers, long
// and odd unicode strings, SQL and JSON meta-characters, duplicate keys), with and without valid
// tokens. Every answer must be documented and match the spec (checked by t.request), none may
// be a 5xx, and a refused request must leave the database exactly as it was.
// CI runs a fixed seed; `npm run fuzz` runs longer (FUZZ_RUNS, FUZZ_SEED).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "./helpers/app.js";
import { craftToken } from "./helpers/jwt.js";
import { duplicateKeyBody, invalidBody, nastyString, resolve, validValue } from "./helpers/schema-arbitrary.js";
import { specOperations, type SpecOperation } from "./helpers/spec-operations.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 12);
const SEED = Number(process.env.FUZZ_SEED ?? 20261124);

let t: TestApp;
const tokens: Record<string, string | undefined> = {};
const ids = { product: [] as number[], user: [] as string[] };

beforeAll(async () => {
  t = await startTestApp();
  tokens.admin = await t.adminToken();
  const user = await t.createUser();
  tokens.user = user.access;
  tokens.garbage = "not.a.token";
  tokens.algNone = craftToken({ alg: "none" }, { token_type: "access", user_id: user.id, jti: "x", iat: 0, exp: 4102444800 });
  ids.user.push(user.id);
  for (const name of ["Fuzz Tea", "Fuzz Coffee", "Fuzz Water"]) {
    const response = await t.request({ method: "POST", url: "/api/product/", token: tokens.admin, payload: { name, price: "1.5", stock: 50 } });
    ids.product.push(response.json().id);
  }
  console.log(`fuzz: seed ${SEED}, ${RUNS} runs for each of ${specOperations.length} operations`);
});
afterAll(() => t.close());

async function fingerprint(): Promise<string> {
  const tables = ["users", "products", "orders", "order_items", "refresh_tokens", "idempotency_keys"];
  const parts = tables.map((table) => `(SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM ${table} t)`);
  const { rows } = await t.database.pool.query(`SELECT concat_ws('|', ${parts.join(", ")}) AS f`);
  return rows[0].f;
}

const oddPathSegment = fc.oneof(nastyString.filter((s) => s.length > 0 && s.length < 200), fc.constantFrom("-1", "0", "1.5", "99999999999", "%2F", "null"));

function pathValue(op: SpecOperation): fc.Arbitrary<string> {
  const usesUuid = op.path.startsWith("/api/user/");
  const valid = usesUuid ? fc.oneof(fc.uuid(), fc.constantFrom(...ids.user)) : fc.oneof(fc.integer({ min: 1, max: 2147483647 }), fc.constantFrom(...ids.product)).map(String);
  return fc.oneof(valid, oddPathSegment);
}

function queryString(op: SpecOperation): fc.Arbitrary<string> {
  if (op.queryParams.length === 0) return fc.constant("");
  const entries = op.queryParams.map((param) =>
    fc.option(fc.oneof(validValue(param.schema).map(String), nastyString.filter((s) => s.length < 500)), { nil: undefined }).map((value) => [param.name, value] as const),
  );
  return fc.tuple(...entries).map((pairs) => {
    const params = new URLSearchParams();
    for (const [name, value] of pairs) if (value !== undefined) params.set(name, value);
    const text = params.toString();
    return text ? `?${text}` : "";
  });
}

function body(op: SpecOperation): fc.Arbitrary<unknown> {
  if (!op.bodySchema) return fc.constant(undefined);
  const schema = resolve(op.bodySchema);
  return fc.oneof(validValue(schema), invalidBody(schema), duplicateKeyBody(schema).map((text) => ({ raw: text })));
}

function requestFor(op: SpecOperation) {
  return fc.record({
    token: fc.constantFrom("admin", "user", "none", "garbage", "algNone"),
    path: op.pathParams.length ? pathValue(op) : fc.constant(""),
    query: queryString(op),
    body: body(op),
    idempotencyKey: op.operationId === "createOrder" ? fc.option(fc.oneof(fc.uuid(), nastyString), { nil: undefined }) : fc.constant(undefined),
  });
}

describe.each(specOperations)("fuzzing $operationId", (op) => {
  it("answers as documented, never 5xx, and refusals change nothing", async () => {
    await fc.assert(
      fc.asyncProperty(requestFor(op), async (input) => {
        const url = op.path.replace(/\{[^}]+\}/, encodeURIComponent(input.path)) + input.query;
        const headers: Record<string, string> = {};
        if (input.idempotencyKey !== undefined) headers["idempotency-key"] = input.idempotencyKey.replace(/[^\x20-\x7e]/g, "?");
        const raw = (input.body as { raw?: string } | undefined)?.raw;
        if (raw !== undefined) headers["content-type"] = "application/json";
        const before = await fingerprint();
        const response = await t.request({
          method: op.method,
          url,
          token: tokens[input.token],
          headers,
          ...(input.body === undefined ? {} : { payload: raw ?? JSON.stringify(input.body) }),
          ...(input.body !== undefined && raw === undefined ? { headers: { ...headers, "content-type": "application/json" } } : {}),
        });
        expect(response.statusCode).toBeLessThan(500);
        if (response.statusCode >= 400) expect(await fingerprint()).toBe(before);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 120_000);
});
