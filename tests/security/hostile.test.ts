// Hostile input and token edge cases, one test per finding of the abuse review: each answered a
// 500 (or let an account be locked, a token outlive a logout, …) before. Every answer is checked
// against the spec by t.request; refusals must leave the database exactly as it was.
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validatorCompiler } from "../../src/infra/http/ajv.js";
import { PRINCIPAL_TTL_MS } from "../../src/accounts/authentication.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";
import { databaseFingerprint } from "../helpers/fingerprint.js";
import { craftToken } from "../helpers/jwt.js";
import { resolve } from "../helpers/schema-arbitrary.js";

let t: TestApp;
let admin: string;
let user: Awaited<ReturnType<TestApp["createUser"]>>;
let productId: number;

beforeAll(async () => {
  t = await startTestApp();
  admin = await t.adminToken();
  user = await t.createUser();
  productId = (await createProduct(viaApp(t), admin, { name: "Hostile Tea", price: "2", stock: 50 })).id;
});
afterAll(() => t.close());

/** Sends the request and expects a 400 problem naming `path`, with nothing written. */
async function expectRefused(request: Parameters<TestApp["request"]>[0], path: string) {
  const before = await databaseFingerprint(t.database);
  const response = await t.request(request);
  expect(response.statusCode, `${request.method ?? "GET"} ${request.url}: ${response.body}`).toBe(400);
  expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
  expect(response.json().errors.map((e: { path: string }) => e.path)).toContain(path);
  expect(await databaseFingerprint(t.database)).toBe(before);
}

describe("1. NUL and other control characters in text", () => {
  const hostile = ["nul\u0000byte", "bell\u0007", "escape\u001b[31m", "del\u007f", "c1\u0085", "lone\ud800surrogate", "line\u2028separator"];

  it.each(hostile)("are refused in registration, login, product and user names: %j", async (text) => {
    await expectRefused({ method: "POST", url: "/api/register/", payload: { name: text, password: "a long enough secret" } }, "/body/name");
    await expectRefused({ method: "POST", url: "/api/product/", token: admin, payload: { name: text, price: "1", stock: 1 } }, "/body/name");
    await expectRefused({ method: "PATCH", url: `/api/product/${productId}`, token: admin, payload: { name: text } }, "/body/name");
    await expectRefused({ method: "PATCH", url: `/api/user/${user.id}`, token: user.access, payload: { name: text } }, "/body/name");
  });

  it.each(hostile.filter((text) => !text.includes("\u2028")))("are refused in login names and passwords and in search keywords: %j", async (text) => {
    await expectRefused({ method: "POST", url: "/api/token/", payload: { name: text, password: "whatever it is" } }, "/body/name");
    await expectRefused({ method: "POST", url: "/api/token/", payload: { name: user.name, password: text } }, "/body/password");
    await expectRefused({ method: "POST", url: "/api/register/", payload: { name: "fine-name", password: `long enough ${text}` } }, "/body/password");
  });

  it.each(["%00", "a%00b", "%07", "%1B", "%7F", "%C2%85"])("are refused in the keyword query: %s", async (encoded) => {
    await expectRefused({ url: `/api/product/?keyword=${encoded}`, token: user.access }, "/query/keyword");
  });
});

describe("2. integer parameters take decimal digits only", () => {
  it.each(["Infinity", "-Infinity", "1e400", "NaN", "0x5", "1.0", "1e0", "0b101", "+5", "-0", " 5", "99999999999999999999"])(
    "refuses product and order id %j",
    async (id) => {
      await expectRefused({ url: `/api/product/${encodeURIComponent(id)}`, token: user.access }, "/params/id");
      await expectRefused({ url: `/api/order/${encodeURIComponent(id)}`, token: user.access }, "/params/id");
      await expectRefused({ method: "DELETE", url: `/api/product/${encodeURIComponent(id)}`, token: admin }, "/params/id");
    },
  );

  it.each(["Infinity", "-Infinity", "1e400", "1e2", "0x10", "1.0", "-0"])("refuses limit and offset %j", async (value) => {
    await expectRefused({ url: `/api/product/?limit=${encodeURIComponent(value)}`, token: user.access }, "/query/limit");
    await expectRefused({ url: `/api/order/?offset=${encodeURIComponent(value)}`, token: user.access }, "/query/offset");
    await expectRefused({ url: `/api/user/?offset=${encodeURIComponent(value)}`, token: admin }, "/query/offset");
  });

  it.each(["%ED%A0%80", "%FF", "%C0%80", "1".repeat(150), "%C4%B0".repeat(150)])(
    "answers a broken or over-long path parameter %s with a 400 problem",
    async (id) => {
      await expectRefused({ url: `/api/product/${id}`, token: user.access }, "/params");
      await expectRefused({ method: "PATCH", url: `/api/user/${id}`, token: user.access, payload: { name: "x" } }, "/params");
    },
  );

  it("still reads plain digits", async () => {
    expect((await t.request({ url: `/api/product/${productId}`, token: user.access })).json().name).toBe("Hostile Tea");
    expect((await t.request({ url: `/api/product/00${productId}`, token: user.access })).json().id).toBe(productId);
    const page = await t.request({ url: "/api/product/?limit=100&offset=0", token: user.access });
    expect(page.statusCode).toBe(200);
    expect(page.json().count).toBeGreaterThanOrEqual(1);
  });
});

describe("3. names that lengthen when lowercased, and invisible names", () => {
  it("refuses a user name over 100 characters once lowercased, and accepts one that fits", async () => {
    await expectRefused({ method: "POST", url: "/api/register/", payload: { name: "İ".repeat(60), password: "a long enough secret" } }, "/body/name");
    await expectRefused({ method: "PATCH", url: `/api/user/${user.id}`, token: user.access, payload: { name: "İ".repeat(60) } }, "/body/name");
    const fits = await t.request({ method: "POST", url: "/api/register/", payload: { name: "İ".repeat(50), password: "a long enough secret" } });
    expect(fits.statusCode).toBe(201);
    expect(fits.json().name).toBe("İ".repeat(50));
    expect((await t.login("İ".repeat(50), "a long enough secret")).access).toBeTruthy();
  });

  it("refuses a product name over 200 characters once lowercased, and accepts one that fits", async () => {
    await expectRefused({ method: "POST", url: "/api/product/", token: admin, payload: { name: "İ".repeat(150), price: "1", stock: 1 } }, "/body/name");
    await expectRefused({ method: "PUT", url: `/api/product/${productId}`, token: admin, payload: { name: "İ".repeat(101) } }, "/body/name");
    const fits = await t.request({ method: "POST", url: "/api/product/", token: admin, payload: { name: "İ".repeat(100), price: "1", stock: 1 } });
    expect(fits.statusCode).toBe(201);
  });

  it('stores product names in NFC as user names are: the two spellings of "é" are one name', async () => {
    const decomposed = "Cafe\u0301 Tea";
    const created = await t.request({ method: "POST", url: "/api/product/", token: admin, payload: { name: decomposed, price: "1", stock: 1 } });
    expect(created.statusCode).toBe(201);
    expect(created.json().name).toBe("Caf\u00e9 Tea");
    const twin = await t.request({ method: "POST", url: "/api/product/", token: admin, payload: { name: "CAF\u00c9 TEA", price: "1", stock: 1 } });
    expect(twin.statusCode).toBe(400);
    expect(twin.json()).toMatchObject({ code: "name-taken", errors: [{ path: "/body/name", code: "taken" }] });
    const user = await t.request({ method: "POST", url: "/api/register/", payload: { name: decomposed, password: "a long enough secret" } });
    expect(user.json().name).toBe("Caf\u00e9 Tea");
  });

  it.each(["\u200b", "\u200b\u200c\u200d", "\ufeff", " \u2060 ", "\u0301"])("refuses a name of invisible characters only: %j", async (name) => {
    await expectRefused({ method: "POST", url: "/api/register/", payload: { name, password: "a long enough secret" } }, "/body/name");
    await expectRefused({ method: "POST", url: "/api/product/", token: admin, payload: { name, price: "1", stock: 1 } }, "/body/name");
  });
});

describe("6. token claims", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const sign = (claims: Record<string, unknown>) => craftToken({ alg: "HS256", typ: "JWT" }, claims, t.config.JWT_SECRET);
  const expectTokenRefused = async (token: string) => {
    const response = await t.request({ url: "/api/product/", token });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe("token-not-valid");
  };

  it("refuses a validly signed token without exp", () => expectTokenRefused(sign({ token_type: "access", user_id: user.id, jti: "j", iat: now() })));
  it.each([["not-a-uuid"], [""], ["../../admin"], ["00000000-0000-0000-0000-00000000000g"], ["x".repeat(5000)]])(
    "refuses a malformed user_id with 401 (%#)",
    (userId) => expectTokenRefused(sign({ token_type: "access", user_id: userId, jti: "j", iat: now(), exp: now() + 600 })),
  );
  it.each([[{ user_id: 42 }], [{ iat: "yesterday" }], [{ exp: "tomorrow" }], [{ jti: 7 }]])("refuses malformed claims %j", (bad) =>
    expectTokenRefused(sign({ token_type: "access", user_id: user.id, jti: "j", iat: now(), exp: now() + 600, ...bad })),
  );
  it("refuses a refresh token without exp or with a malformed user", async () => {
    for (const claims of [{ user_id: user.id }, { user_id: "nope", exp: now() + 600 }]) {
      const refresh = sign({ token_type: "refresh", jti: "00000000-0000-4000-8000-000000000000", iat: now(), ...claims });
      const response = await t.request({ method: "POST", url: "/api/token/refresh/", payload: { refresh } });
      expect(response.statusCode).toBe(401);
    }
  });
});

describe("7. slow clients are cut off on time", () => {
  it("closes a socket whose headers take over 5 s, and one whose body takes over 10 s, within a second of the limit", async () => {
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = t.app.server.address() as { port: number };
    const timeUntilClosed = (partialRequest: string) =>
      new Promise<number>((done, fail) => {
        const started = Date.now();
        const socket = connect(port, "127.0.0.1", () => socket.write(partialRequest));
        socket.on("error", () => {});
        // Node answers 408 and closes; either ends the wait.
        socket.on("data", (data) => {
          if (String(data).startsWith("HTTP/1.1 408")) done((Date.now() - started) / 1000);
        });
        socket.on("close", () => done((Date.now() - started) / 1000));
        setTimeout(() => {
          socket.destroy();
          fail(new Error("socket still open after 25 s"));
        }, 25_000).unref();
      });
    const [headers, body] = await Promise.all([
      timeUntilClosed("GET /healthz HTTP/1.1\r\nHost: x\r\n"),
      timeUntilClosed('POST /api/token/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name"'),
    ]);
    expect(headers).toBeGreaterThanOrEqual(4.9);
    expect(headers).toBeLessThan(6.5);
    expect(body).toBeGreaterThanOrEqual(9.9);
    expect(body).toBeLessThan(11.5);
  }, 30_000);
});

describe("9. idempotency compares the body's meaning, not its text", () => {
  it("replays the first order for the same body with its keys in another order", async () => {
    const headers = { "idempotency-key": "reordered-keys-1", "content-type": "application/json" };
    const first = await t.request({
      method: "POST",
      url: "/api/order/",
      token: user.access,
      headers,
      payload: `{"products":[{"id":${productId},"quantity":2}]}`,
    });
    expect(first.statusCode).toBe(201);
    const again = await t.request({
      method: "POST",
      url: "/api/order/",
      token: user.access,
      headers,
      payload: `{ "products" : [ { "quantity" : 2, "id" : ${productId} } ] }`,
    });
    expect(again.statusCode).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json()).toEqual(first.json());
    const other = await t.request({
      method: "POST",
      url: "/api/order/",
      token: user.access,
      headers,
      payload: `{"products":[{"quantity":3,"id":${productId}}]}`,
    });
    expect(other.statusCode).toBe(422);
    expect(await t.database.prisma.order.count({ where: { userId: user.id } })).toBe(1);
  });
});

describe("10. logout and password change end access tokens", () => {
  const products = (token: string) => t.request({ url: "/api/product/", token });
  const afterCache = () => sleep(PRINCIPAL_TTL_MS + 300);

  it("logout: the access token stops working within 2 s; a new login works at once", async () => {
    const someone = await t.createUser();
    expect((await products(someone.access)).statusCode).toBe(200);
    expect((await t.request({ method: "POST", url: "/api/token/revoke/", payload: { refresh: someone.refresh } })).statusCode).toBe(204);
    const fresh = await t.login(someone.name, someone.password);
    await afterCache();
    const refused = await products(someone.access);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().code).toBe("token-not-valid");
    expect((await products(fresh.access)).statusCode).toBe(200);
    // Another session's refresh token still works, and gives an access token that works.
    const rotated = await t.request({ method: "POST", url: "/api/token/refresh/", payload: { refresh: fresh.refresh } });
    expect(rotated.statusCode).toBe(200);
    expect((await products(rotated.json().access)).statusCode).toBe(200);
  });

  it("password change: every earlier access token stops working within 2 s", async () => {
    const someone = await t.createUser();
    const second = await t.login(someone.name, someone.password);
    const changed = await t.request({
      method: "PATCH",
      url: `/api/user/${someone.id}`,
      token: someone.access,
      payload: { password: "a brand new passphrase", current_password: someone.password },
    });
    expect(changed.statusCode).toBe(200);
    const fresh = await t.login(someone.name, "a brand new passphrase");
    await afterCache();
    expect((await products(someone.access)).statusCode).toBe(401);
    expect((await products(second.access)).statusCode).toBe(401);
    expect((await products(fresh.access)).statusCode).toBe(200);
  });
});

describe("the schemas state the service's rules (issue 14)", () => {
  const spec = (name: string) => resolve({ $ref: `#/components/schemas/${name}` });
  const accepts = (schemaName: string, value: unknown) =>
    (validatorCompiler({ schema: spec(schemaName), httpPart: "body" } as never) as (v: unknown) => boolean)(value);
  const MAX_STOCK = 2_147_483_647;

  it("passwords are 8 to 128 characters, user names at most 100", () => {
    expect(accepts("Password", "x".repeat(7))).toBe(false);
    expect(accepts("Password", "x".repeat(8))).toBe(true);
    expect(accepts("Password", "x".repeat(128))).toBe(true);
    expect(accepts("Password", "x".repeat(129))).toBe(false);
    expect(accepts("UserName", "n".repeat(100))).toBe(true);
    expect(accepts("UserName", "n".repeat(101))).toBe(false);
  });

  it("a stock string is accepted exactly when its value is at most 2147483647", () => {
    expect(accepts("StockInput", "9999999999")).toBe(false);
    expect(accepts("StockInput", "2147483647")).toBe(true);
    expect(accepts("StockInput", "2147483648")).toBe(false);
    fc.assert(
      fc.property(fc.stringMatching(/^\d{1,12}$/), (digits) => {
        expect(accepts("StockInput", digits)).toBe(Number(digits) <= MAX_STOCK);
      }),
      { seed: 20261125, numRuns: 2_000 },
    );
  });

  it("prices are multiples of 0.001, with decimals such as 1.001 accepted", async () => {
    for (const price of [1.001, 0.001, 2.2, 9999999.999, 1234.567]) expect(accepts("PriceInput", price), String(price)).toBe(true);
    for (const price of [1.2345, 0.0001, 1.0005]) expect(accepts("PriceInput", price), String(price)).toBe(false);
    const created = await t.request({ method: "POST", url: "/api/product/", token: admin, payload: { name: "Precise Tea", price: 1.001, stock: 1 } });
    expect(created.json().price).toBe("1.001");
    await expectRefused({ method: "POST", url: "/api/product/", token: admin, payload: { name: "Imprecise Tea", price: 1.2345, stock: 1 } }, "/body/price");
  });
});
