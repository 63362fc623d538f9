// One block per OWASP API Security Top 10 (2023) item that applies to this service. Deeper
// checks live next to the features (auth, abuse, faults, routes, contract-sweep tests).
// Not applicable: API7 SSRF and API10 unsafe consumption (the service calls no other API).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/infra/config.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";
import { craftToken } from "../helpers/jwt.js";
import { specOperations, urlFor } from "../helpers/spec-operations.js";

let t: TestApp;
let admin: string;
let alice: Awaited<ReturnType<TestApp["createUser"]>>;
let bob: Awaited<ReturnType<TestApp["createUser"]>>;
let productId: number;
let aliceOrderId: number;
beforeAll(async () => {
  t = await startTestApp({ LOGIN_FAILURES_BEFORE_DELAY: 5 });
  admin = await t.adminToken();
  alice = await t.createUser();
  bob = await t.createUser();
  productId = (await createProduct(viaApp(t), admin, { name: "OWASP Tea", price: "1", stock: 100 })).id;
  aliceOrderId = (await t.request({ method: "POST", url: "/api/order/", token: alice.access, payload: { products: [{ id: productId, quantity: 1 }] } })).json()
    .id;
});
afterAll(() => t.close());

describe("API1 broken object level authorization", () => {
  // Every resource checks ownership through one helper (assertOwnerOrAdmin): owners and admins see it.
  it("hides another user's order and user record behind 404, read or write, and shows them to their owner and admins", async () => {
    const hiddenOrder = await t.request({ url: `/api/order/${aliceOrderId}`, token: bob.access });
    expect(hiddenOrder.statusCode).toBe(404);
    expect((await t.request({ url: `/api/order/${aliceOrderId}`, token: alice.access })).statusCode).toBe(200);
    expect((await t.request({ url: `/api/order/${aliceOrderId}`, token: admin })).statusCode).toBe(200);
    expect((await t.request({ url: "/api/order/", token: bob.access })).json().count).toBe(0);
    expect((await t.request({ url: `/api/user/${alice.id}`, token: alice.access })).json().name).toBe(alice.name);
    expect((await t.request({ url: `/api/user/${alice.id}`, token: admin })).statusCode).toBe(200);
    // Someone else's resource reads exactly as one that does not exist.
    const sameAnswer = (hidden: { json(): any }, missing: { json(): any }) =>
      expect(hidden.json()).toEqual({
        ...missing.json(),
        detail: hidden.json().detail,
        instance: hidden.json().instance,
        request_id: hidden.json().request_id,
      });
    sameAnswer(hiddenOrder, await t.request({ url: "/api/order/2147483647", token: bob.access }));
    sameAnswer(
      await t.request({ url: `/api/user/${alice.id}`, token: bob.access }),
      await t.request({ url: "/api/user/00000000-0000-0000-0000-000000000000", token: bob.access }),
    );
    for (const method of ["GET", "PATCH", "PUT", "DELETE"]) {
      const response = await t.request({
        method,
        url: `/api/user/${alice.id}`,
        token: bob.access,
        ...(method.startsWith("P") ? { payload: { name: "taken-over" } } : {}),
      });
      expect(response.statusCode, method).toBe(404);
    }
    expect((await t.database.prisma.user.findUniqueOrThrow({ where: { id: alice.id } })).name).toBe(alice.name);
  });
});

describe("API2 broken authentication", () => {
  it("refuses unsigned, forged and wrong-type tokens, and slows password guessing", async () => {
    const claims = { token_type: "access", user_id: alice.id, jti: "x", iat: 0, exp: 4102444800 };
    for (const token of [craftToken({ alg: "none" }, claims), craftToken({ alg: "HS256" }, claims, "secret"), alice.refresh]) {
      expect((await t.request({ url: "/api/order/", token })).statusCode).toBe(401);
    }
    const guesses = [];
    for (let i = 0; i < 6; i++)
      guesses.push((await t.request({ method: "POST", url: "/api/token/", payload: { name: bob.name, password: `guess-${i}` } })).statusCode);
    expect(guesses).toEqual([401, 401, 401, 401, 401, 429]);
  });
});

describe("API3 broken object property level authorization", () => {
  it("ignores no field it does not accept: is_admin, id, stock or price through an order", async () => {
    const attempts = [
      t.request({ method: "POST", url: "/api/register/", payload: { name: "eve", password: "a long enough secret", is_admin: true } }),
      t.request({ method: "PATCH", url: `/api/user/${bob.id}`, token: bob.access, payload: { id: alice.id } }),
      t.request({ method: "PATCH", url: `/api/product/${productId}`, token: admin, payload: { id: 999 } }),
      t.request({ method: "POST", url: "/api/order/", token: bob.access, payload: { products: [{ id: productId, quantity: 1, price: "0.001" }] } }),
      t.request({ method: "POST", url: "/api/order/", token: bob.access, payload: { products: [{ id: productId, quantity: 1 }], user_id: alice.id } }),
    ];
    for (const response of await Promise.all(attempts)) expect(response.statusCode).toBe(400);
    expect(await t.database.prisma.user.count({ where: { nameKey: "eve" } })).toBe(0);
  });

  it("never shows a password hash", async () => {
    const user = await t.request({ url: `/api/user/${bob.id}`, token: bob.access });
    expect(Object.keys(user.json()).sort()).toEqual(["created_at", "id", "is_admin", "name", "updated_at"]);
  });
});

describe("API4 unrestricted resource consumption", () => {
  it("bounds bodies, pages and orders", async () => {
    const big = await t.request({
      method: "POST",
      url: "/api/order/",
      token: bob.access,
      payload: { products: [{ id: productId, quantity: 1 }], pad: "x".repeat(70_000) },
    });
    expect(big.statusCode).toBe(413);
    expect((await t.request({ url: "/api/product/?limit=1000", token: bob.access })).statusCode).toBe(400);
    const lines = Array.from({ length: 101 }, (_, i) => ({ id: i + 1, quantity: 1 }));
    expect((await t.request({ method: "POST", url: "/api/order/", token: bob.access, payload: { products: lines } })).statusCode).toBe(400);
    expect(
      (await t.request({ method: "POST", url: "/api/order/", token: bob.access, payload: { products: [{ id: productId, quantity: 10_001 }] } })).statusCode,
    ).toBe(400);
  });
});

describe("API5 broken function level authorization", () => {
  it.each(specOperations.filter((op) => op.access === "admin"))("$operationId is refused to a normal user", async (op) => {
    const response = await t.request({ method: op.method, url: urlFor(op, { id: productId }), token: bob.access, payload: op.bodyExample as object });
    expect(response.statusCode).toBe(403);
  });
});

describe("API6 unrestricted access to sensitive business flows", () => {
  it("cannot drain stock below zero or order twice by retrying", async () => {
    const headers = { "idempotency-key": "owasp-retry" };
    const payload = { products: [{ id: productId, quantity: 2 }] };
    const first = await t.request({ method: "POST", url: "/api/order/", token: bob.access, payload, headers });
    const retry = await t.request({ method: "POST", url: "/api/order/", token: bob.access, payload, headers });
    expect(retry.json().id).toBe(first.json().id);
    const drain = await t.request({ method: "POST", url: "/api/order/", token: bob.access, payload: { products: [{ id: productId, quantity: 10_000 }] } });
    expect(drain.statusCode).toBe(400);
    expect((await t.database.prisma.product.findUniqueOrThrow({ where: { id: productId } })).stock).toBe(97);
  });
});

describe("API8 security misconfiguration", () => {
  it("refuses to start in production without a secret, and creates no default admin there", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(/JWT_SECRET is required/);
    const secret = "Zr8mQ2vK9tB4xW7nL1pH6cF3yD5gS0jA";
    const production = loadConfig({ NODE_ENV: "production", JWT_SECRET: secret });
    expect(production.ADMIN_PASSWORD).toBeUndefined();
    expect(production.JWT_SECRET).toBe(secret);
  });

  it("answers unsupported methods and paths with problems, and sends hardening headers", async () => {
    const trace = await t.request({ method: "TRACE" as "GET", url: "/api/product/" });
    expect([404, 405]).toContain(trace.statusCode);
    const response = await t.request({ url: "/healthz" });
    expect(response.headers["x-content-type-options"]).toBe("nosniff");
    expect(response.headers["x-powered-by"]).toBeUndefined();
  });

  it("sends the same hardening headers on every kind of answer; the docs pages keep their own CSP", async () => {
    const hardening = {
      "content-security-policy": "default-src 'none';frame-ancestors 'none'",
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-resource-policy": "same-origin",
      "origin-agent-cluster": "?1",
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
      "x-dns-prefetch-control": "off",
      "x-download-options": "noopen",
      "x-frame-options": "SAMEORIGIN",
      "x-permitted-cross-domain-policies": "none",
      "x-xss-protection": "0",
    };
    const answers = [
      await t.request({ url: "/api/product/", token: await t.adminToken() }),
      await t.request({ url: "/api/product/" }),
      await t.request({ url: "/no/such/path" }),
      await t.request({ method: "POST", url: "/api/token/", payload: "{", headers: { "content-type": "application/json" } }),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([200, 401, 404, 400]);
    for (const answer of answers) expect(answer.headers).toMatchObject(hardening);
    // The docs pages are not API answers (no spec entry): asked directly.
    for (const page of ["/redoc", "/docs/"]) {
      const answer = await t.app.inject({ url: page });
      expect(answer.statusCode, page).toBe(200);
      expect(answer.headers, page).toMatchObject({ ...hardening, "content-security-policy": expect.stringContaining("script-src 'self'") });
    }
  });
});

describe("API9 improper inventory management", () => {
  it("publishes exactly the routes it serves: the spec it serves is openapi.yaml", async () => {
    const served = (await t.request({ url: "/openapi.json" })).json();
    const paths = Object.keys(served.paths);
    expect(new Set(specOperations.map((op) => op.path))).toEqual(new Set(paths));
    expect((await t.request({ url: "/api/v0/product/" })).statusCode).toBe(404);
  });
});
