// Issue 27, finding 5: "500 instead of 401 after a user deletes themselves". For the ~2 s the
// principal cache trusted the token, every order answered 500 (a foreign-key violation). And a
// login or a refresh racing the deletion: 401, not 500.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { createProduct, viaApp } from "../helpers/factories.js";
import { ADMIN } from "../../support/admin.js";
import { buildApp, startTestApp, type TestApp } from "../helpers/app.js";
import { assertMatchesSpec } from "../helpers/contract.js";

describe("finding 5: a deleted user's token is 401, never 500", () => {
  let t: TestApp;
  /** Another process of the service on the same database, with its own principal cache. */
  let other: FastifyInstance;
  let productId: number;
  beforeAll(async () => {
    t = await startTestApp();
    const database = { url: t.database.url, close: async () => {} };
    other = await buildApp(t.config, { database, logger: false });
    productId = (await createProduct(viaApp(t), await t.adminToken(), { name: "Farewell Tea", price: "2", stock: 1_000 })).id;
  });
  afterAll(async () => {
    await other?.close();
    await t?.close();
  });

  const order = async (app: FastifyInstance, token: string) => {
    const response = await app.inject({
      method: "POST",
      url: "/api/order/",
      headers: { authorization: `Bearer ${token}` },
      payload: { products: [{ id: productId, quantity: 1 }] },
    });
    assertMatchesSpec("POST", "/api/order/", response);
    return response;
  };
  const expectUserGone = (response: { statusCode: number; json(): any }) => {
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: "token-not-valid", detail: "User not found" });
  };

  it("on the process that deleted the user, at once", async () => {
    const user = await t.createUser();
    expect((await order(t.app, user.access)).statusCode).toBe(201); // its principal is cached now
    expect((await t.request({ method: "DELETE", url: `/api/user/${user.id}`, token: user.access })).statusCode).toBe(204);
    const answers = await Promise.all(Array.from({ length: 20 }, () => order(t.app, user.access)));
    for (const answer of answers) expectUserGone(answer);
  });

  it("on another process that still trusts the token, 401 for the order (the user is gone), never 500", async () => {
    const user = await t.createUser();
    expect((await order(other, user.access)).statusCode).toBe(201); // cached on the other process
    expect((await t.request({ method: "DELETE", url: `/api/user/${user.id}`, token: user.access })).statusCode).toBe(204);
    const answers = await Promise.all(Array.from({ length: 20 }, () => order(other, user.access)));
    for (const answer of answers) expectUserGone(answer);
    expect(await t.database.prisma.order.count({ where: { userId: user.id } })).toBe(0);
    // The admin is unaffected.
    expect((await order(other, (await t.login(ADMIN.name, ADMIN.password)).access)).statusCode).toBe(201);
  });
});

describe("a user deleted while signing in or refreshing: 401, never 500", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  /**
   * 30 rounds, each a new user whose deletion starts 0 to `maxDelayMs` ms after `send` (so that it
   * lands at every point of it): the answer matches the spec, and is 200 or a 401 with `code`.
   */
  async function raceWithDeletion(
    path: "/api/token/" | "/api/token/refresh/",
    payload: (user: { name: string; password: string; refresh: string }) => object,
    maxDelayMs: number,
    code: string,
  ) {
    for (let round = 0; round < 30; round++) {
      const user = await t.createUser();
      const [answer, removed] = await Promise.all([
        t.request({ method: "POST", url: path, payload: payload(user) }),
        new Promise((resolve) => setTimeout(resolve, round % (maxDelayMs + 1))).then(() =>
          t.request({ method: "DELETE", url: `/api/user/${user.id}`, token: user.access }),
        ),
      ]);
      expect(removed.statusCode, removed.body).toBe(204);
      assertMatchesSpec("POST", path, answer);
      if (answer.statusCode !== 200) {
        expect(answer.statusCode, answer.body).toBe(401);
        expect(answer.json().code).toBe(code);
      }
    }
  }

  it("a login whose user is deleted while its password is checked answers 401 invalid credentials", async () => {
    await raceWithDeletion("/api/token/", ({ name, password }) => ({ name, password }), 5, "invalid-credentials");
  });

  it("a refresh whose user is deleted meanwhile answers 401 token-not-valid", async () => {
    await raceWithDeletion("/api/token/refresh/", ({ refresh }) => ({ refresh }), 3, "token-not-valid");
  });
});
