// Property-based fuzzing of every operation from openapi.yaml's schemas: valid and invalid
// parameters and bodies (wrong types, missing and extra fields, huge and negative numbers, long
// and odd unicode strings, SQL and JSON meta-characters, duplicate keys), with and without valid
// tokens. Every answer must be documented and match the spec (checked by t.request), none may
// be a 5xx, and a refused request must leave the database exactly as it was.
// A second property sends hostile values into every string and integer field of every operation
// (NUL and control characters, lone surrogates, case-folding expanders, non-finite, huge and
// non-decimal numbers): never a 5xx, nothing written on refusal, and always refused when the
// value breaks a rule (control characters in text, anything but decimal digits in an integer).
// CI runs a fixed seed; `npm run fuzz` runs longer (FUZZ_RUNS, FUZZ_SEED).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { craftToken } from "../helpers/jwt.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";
import { loadSpec } from "../../src/infra/spec.js";
import {
  confusableName,
  cursorDate,
  duplicateKeyBody,
  forbiddenInText,
  hostileBody,
  hostileIntegerText,
  hostileString,
  invalidBody,
  nastyString,
  resolve,
  validParameterText,
  validParameterTexts,
  validValue,
} from "../helpers/schema-arbitrary.js";
import { specOperations, type SpecOperation } from "../helpers/spec-operations.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 12);
const SEED = Number(process.env.FUZZ_SEED ?? 20261124);

let t: TestApp;
const tokens: Record<string, string | undefined> = {};
const ids = { product: [] as number[], user: [] as string[], order: [] as number[] };

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
  for (const quantity of [1, 2]) {
    const response = await t.request({ method: "POST", url: "/api/order/", token: tokens.user, payload: { products: [{ id: ids.product[0], quantity }] } });
    ids.order.push(response.json().id);
  }
  console.log(`fuzz: seed ${SEED}, ${RUNS} runs for each of ${specOperations.length} operations`);
});
afterAll(() => t.close());

const fingerprint = () => databaseFingerprint(t.database);

const oddPathSegment = fc.oneof(
  nastyString.filter((s) => s.length > 0 && s.length < 200),
  fc.constantFrom("-1", "0", "1.5", "99999999999", "%2F", "null"),
);

function pathValue(op: SpecOperation): fc.Arbitrary<string> {
  const usesUuid = op.path.startsWith("/api/user/");
  const valid = usesUuid
    ? fc.oneof(fc.uuid(), fc.constantFrom(...ids.user))
    : fc.oneof(fc.integer({ min: 1, max: 2147483647 }), fc.constantFrom(...ids.product)).map(String);
  return fc.oneof(valid, oddPathSegment);
}

function queryString(op: SpecOperation): fc.Arbitrary<string> {
  if (op.queryParams.length === 0) return fc.constant("");
  const entries = op.queryParams.map((param) =>
    fc
      .option(
        fc.oneof(
          validValue(param.schema).map(String),
          nastyString.filter((s) => s.length < 500),
        ),
        { nil: undefined },
      )
      .map((value) => [param.name, value] as const),
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
  return fc.oneof(
    validValue(schema),
    invalidBody(schema),
    duplicateKeyBody(schema).map((text) => ({ raw: text })),
  );
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

/** encodeURIComponent, except that lone surrogates (which it refuses) go as the UTF-8 bytes a careless client would send. */
function encodeAny(text: string): string {
  return text
    .replace(/[\ud800-\udfff]/g, "\ufffd")
    .split("")
    .map((c) => encodeURIComponent(c))
    .join("")
    .replace(/%EF%BF%BD/g, "%ED%A0%80");
}

interface HostileRequest {
  token: string;
  path?: string;
  query: [string, string, boolean][];
  body?: { text: string; forbiddenText: boolean };
}

function hostileRequestFor(op: SpecOperation): fc.Arbitrary<HostileRequest> {
  const pathParam = op.pathParams.length
    ? fc.oneof(
        hostileIntegerText.filter((s) => s !== ""),
        hostileString,
      )
    : fc.constant(undefined);
  const query = fc
    .tuple(
      ...op.queryParams.map((param) => {
        const integer = param.schema.type === "integer";
        const value: fc.Arbitrary<[string, boolean]> = integer ? hostileIntegerText.map((v) => [v, true]) : hostileString.map((v) => [v, false]);
        return fc.option(value, { nil: undefined, freq: 2 }).map((picked) => (picked ? [[param.name, picked[0], picked[1]] as [string, string, boolean]] : []));
      }),
      fc.option(
        hostileString.map((v): [string, string, boolean] => ["undeclared", v, false]),
        { nil: undefined },
      ),
    )
    .map(([...parts]) => parts.flat().filter((part): part is [string, string, boolean] => Array.isArray(part) && typeof part[0] === "string"));
  return fc.record({
    token: fc.constantFrom("admin", "admin", "user", "none"),
    path: pathParam,
    query,
    body: op.bodySchema ? hostileBody(op.bodySchema) : fc.constant(undefined),
  });
}

describe.each(specOperations)("hostile input into $operationId", (op) => {
  it("never 5xx, nothing written on refusal, and refused whenever a value breaks a rule", async () => {
    await fc.assert(
      fc.asyncProperty(hostileRequestFor(op), async (input) => {
        const path = input.path === undefined ? op.path : op.path.replace(/\{[^}]+\}/, encodeAny(input.path));
        const query = input.query.map(([name, value]) => `${name}=${encodeAny(value)}`).join("&");
        const url = query ? `${path}?${query}` : path;
        const mustRefuse = input.path !== undefined || input.query.some(([, , integer]) => integer) || input.body?.forbiddenText === true;
        const before = await fingerprint();
        const response = await t.request({
          method: op.method,
          url,
          token: tokens[input.token],
          ...(input.body ? { payload: input.body.text, headers: { "content-type": "application/json" } } : {}),
        });
        expect(response.statusCode, `${op.method} ${url} ${input.body?.text ?? ""}`).toBeLessThan(500);
        if (mustRefuse) expect(response.statusCode, `${op.method} ${url} ${input.body?.text ?? ""}`).toBeGreaterThanOrEqual(400);
        if (response.statusCode >= 400) expect(await fingerprint()).toBe(before);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 120_000);
});

/**
 * Requests the spec says are valid (every parameter and body drawn from its schema, an admin's
 * token) that the service still refuses. A refusal is fine when it depends on the data, not on
 * the request's form: something unknown, a name taken, too little stock. Any other is a rule the
 * spec does not state where tools can see it; the few a schema cannot state (they relate two
 * query parameters) must be named, with their `errors[].code`, in the operation's description.
 */
const DATA_REFUSALS = new Set([
  "not-found",
  "unknown-product",
  "name-taken",
  "insufficient-stock",
  "stock-out-of-range",
  "order-already-cancelled",
  "invalid-credentials",
  "token-not-valid",
]);
/** A cursor is, like an id, something only the service hands out: one it never wrote is unknown. */
const DATA_FIELD_CODES = new Set(["invalid-cursor"]);
const schemaValidRefusals = new Map<string, number>();
let schemaValidRequests = 0;

/** Known ids of the resource a path's first parameter names, beside ids drawn from its schema. */
function knownIds(path: string): string[] {
  if (path.startsWith("/api/user/")) return ids.user;
  if (path.startsWith("/api/order/")) return ids.order.map(String);
  if (path.startsWith("/api/product/")) return ids.product.map(String);
  return [];
}

function validPathTexts(op: SpecOperation): fc.Arbitrary<string[]> {
  const known = knownIds(op.path);
  return fc.tuple(
    ...op.pathParams.map((param, i) =>
      i === 0 && known.length ? fc.oneof(validParameterText(param.schema), fc.constantFrom(...known)) : validParameterText(param.schema),
    ),
  );
}

function validRequestFor(op: SpecOperation) {
  const query = fc.tuple(
    ...op.queryParams.map((param) => fc.option(validParameterTexts(param.schema), { nil: undefined }).map((values) => [param.name, values] as const)),
  );
  return fc.record({
    path: validPathTexts(op),
    query: op.queryParams.length ? query : fc.constant([] as (readonly [string, string[] | undefined])[]),
    body: op.bodySchema ? validValue(op.bodySchema) : fc.constant(undefined),
  });
}

describe("schema-valid requests", () => {
  afterAll(() => {
    const refused = [...schemaValidRefusals.entries()].sort(([a], [b]) => a.localeCompare(b));
    const total = refused.reduce((sum, [, count]) => sum + count, 0);
    console.log(`fuzz: ${total} of ${schemaValidRequests} schema-valid requests refused\n${refused.map(([why, count]) => `  ${count} ${why}`).join("\n")}`);
  });

  it.each(specOperations)(
    "$operationId refuses them only for reasons of data, or of rules its description names",
    async (op) => {
      const description = String((loadSpec() as any).paths[op.path][op.method.toLowerCase()].description ?? "");
      const unstated = new Set<string>();
      await fc.assert(
        fc.asyncProperty(validRequestFor(op), async (input) => {
          const params = new URLSearchParams();
          for (const [name, values] of input.query) for (const value of values ?? []) params.append(name, value);
          const pathTexts = [...input.path];
          const url = op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(pathTexts.shift()!)) + (params.size ? `?${params}` : "");
          const response = await t.request({
            method: op.method,
            url,
            token: tokens.admin,
            ...(input.body === undefined ? {} : { payload: JSON.stringify(input.body), headers: { "content-type": "application/json" } }),
          });
          schemaValidRequests++;
          if (response.statusCode < 400) return;
          const problem = response.json() as { code: string; errors?: { code?: string; path: string }[] };
          const fieldCodes = (problem.errors ?? []).map((error) => error.code ?? `(schema) ${error.path}`);
          const why = `${op.operationId} ${response.statusCode} ${problem.code}${fieldCodes.length ? `: ${fieldCodes.join(", ")}` : ""}`;
          schemaValidRefusals.set(why, (schemaValidRefusals.get(why) ?? 0) + 1);
          if (DATA_REFUSALS.has(problem.code) || fieldCodes.every((code) => DATA_FIELD_CODES.has(code))) return;
          // Only a rule the description names, by its code, with a 400, may refuse a schema-valid request.
          const named = response.statusCode === 400 && fieldCodes.every((code) => description.includes(`\`${code}\``));
          if (!named) unstated.add(`${why} (e.g. ${op.method} ${url} ${JSON.stringify(input.body) ?? ""})`);
        }),
        { seed: SEED, numRuns: Number(process.env.FUZZ_VALID_RUNS ?? RUNS * 5) },
      );
      expect([...unstated]).toEqual([]);
    },
    120_000,
  );
});

it("hostile strings always hold something a text field must refuse, or an expander, or an invisible", () => {
  fc.assert(
    fc.property(hostileString, (s) => forbiddenInText.test(s) || /[\u0130\u200b-\u200d\u2028\u2029\u2060\ufeff\u202e]|\u0301/.test(s)),
    { seed: SEED, numRuns: 200 },
  );
});

// Issue 27's generators: forged cursor dates, orders at the largest totals, look-alike names.
describe("issue 27 hostile inputs", () => {
  it("a cursor with any date key answers 200 for a real date and 400 invalid-cursor for an impossible one, never 5xx", async () => {
    const first = (await t.request({ url: "/api/product/?ordering=created_at&limit=1&cursor=", token: tokens.admin })).json();
    const good = JSON.parse(Buffer.from(new URL(first.next, "http://x").searchParams.get("cursor")!, "base64url").toString());
    await fc.assert(
      fc.asyncProperty(cursorDate, async ({ text, real }) => {
        const cursor = Buffer.from(JSON.stringify({ ...good, k: [text, good.k[1]] })).toString("base64url");
        const response = await t.request({ url: `/api/product/?ordering=created_at&limit=1&cursor=${cursor}`, token: tokens.admin });
        expect(response.statusCode, text).toBe(real ? 200 : 400);
        if (!real) expect(response.json().errors[0].code, text).toBe("invalid-cursor");
      }),
      { seed: SEED, numRuns: RUNS * 4, endOnFailure: true },
    );
  }, 120_000);

  it("orders of up to 100 lines of up to 10000 units at the highest price answer 201 with the exact total, or a 400, never 5xx", async () => {
    const dear = await Promise.all(
      Array.from(
        { length: 100 },
        async (_, i) =>
          (
            await t.request({
              method: "POST",
              url: "/api/product/",
              token: tokens.admin,
              payload: { name: `Fuzz Gold ${i}`, price: "9999999.999", stock: 2147483647 },
            })
          ).json().id as number,
      ),
    );
    const lines = fc.uniqueArray(fc.record({ id: fc.constantFrom(...dear), quantity: fc.integer({ min: 1, max: 10_000 }) }), {
      minLength: 1,
      maxLength: 100,
      selector: (line) => line.id,
    });
    // A customer of its own: the schema-valid sweep may have retired the shared user's tokens.
    const buyer = await t.createUser();
    await fc.assert(
      fc.asyncProperty(lines, async (products) => {
        const response = await t.request({ method: "POST", url: "/api/order/", token: buyer.access, payload: { products } });
        expect(response.statusCode).toBe(201);
        const units = products.reduce((sum, line) => sum + BigInt(line.quantity), 0n) * 9999999999n;
        expect(response.json().total).toBe(`${units / 1000n}.${String(units % 1000n).padStart(3, "0")}`);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 120_000);

  it("a look-alike of a taken name is refused for users and products, and nothing is written", async () => {
    const plain = fc.stringMatching(/^[a-z]{3,12}$/).map((name) => `${name}a`);
    const create = (product: boolean, name: string) =>
      product
        ? t.request({ method: "POST", url: "/api/product/", token: tokens.admin, payload: { name, price: "1", stock: 1 } })
        : t.request({ method: "POST", url: "/api/register/", payload: { name, password: "a long enough secret" } });
    await fc.assert(
      fc.asyncProperty(
        plain.chain((name) => fc.tuple(fc.constant(name), confusableName(fc.constant(name)), fc.boolean())),
        async ([name, lookAlike, product]) => {
          await create(product, name); // taken now (or already)
          const before = await fingerprint();
          const response = await create(product, lookAlike);
          expect(response.statusCode, JSON.stringify(lookAlike)).toBe(400);
          // Refused as a look-alike, or, when trimming leaves the plain name (a leading BOM), as taken.
          expect(["confusable", "taken"], JSON.stringify(lookAlike)).toContain(response.json().errors[0].code);
          expect(await fingerprint()).toBe(before);
        },
      ),
      { seed: SEED, numRuns: RUNS * 4, endOnFailure: true },
    );
  }, 120_000);
});
