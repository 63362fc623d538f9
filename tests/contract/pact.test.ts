// Consumer-driven contracts (Pact). The first part is what a client team writes: a consumer test
// of their own code against Pact's mock server, which records the interactions they rely on in a
// pact file (artifacts/pacts/). The second is this service's side: the real service, over TCP,
// verifies every interaction of that pact, with state handlers that make the data each needs
// (a user exists, a product with stock N exists, an order exists). docs/guides/contract-testing.md
// says how a team's pacts are verified here.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MatchersV3, PactV3, Verifier } from "@pact-foundation/pact";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN } from "../../support/admin.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";

const { like, eachLike, integer, string, regex, fromProviderState, datetime } = MatchersV3;
const PACTS = resolve("artifacts/pacts");
const CONSUMER = "order-web";
const PROVIDER = "order-service";
const SHOPPER = { name: "pact shopper", password: "correct horse pact battery" };
const TIMESTAMP = "yyyy-MM-dd'T'HH:mm:ss.SSSX";

/** The client team's code under test: a thin fetch client. */
function shopClient(baseUrl: string) {
  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const response = await fetch(baseUrl + path, {
      method,
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: await response.json() };
  };
  return {
    login: (name: string, password: string) => call("POST", "/api/token/", undefined, { name, password }),
    order: (token: string, productId: number, quantity: number) => call("POST", "/api/order/", token, { products: [{ id: productId, quantity }] }),
    read: (token: string, orderId: number) => call("GET", `/api/order/${orderId}`, token),
    cancel: (token: string, orderId: number) => call("POST", `/api/order/${orderId}/cancel`, token),
  };
}

/** Pact's provider-state expression for `name`, which the state handler's value replaces. */
const stateValue = (name: string) => ["$", "{", name, "}"].join("");

const EXAMPLE_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2ln";
const bearer = regex(/^Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, `Bearer ${EXAMPLE_TOKEN}`);
const line = {
  product_id: integer(1),
  name: string("Pact Tea"),
  quantity: integer(2),
  unit_price: regex(/^\d+\.\d{3}$/, "1.500"),
  line_total: regex(/^\d+\.\d{3}$/, "3.000"),
};
const order = (status: "created" | "cancelled") => ({
  id: integer(1),
  status,
  created_at: datetime(TIMESTAMP, "2026-01-01T12:00:00.000Z"),
  cancelled_at: status === "created" ? null : datetime(TIMESTAMP, "2026-01-01T12:05:00.000Z"),
  items: eachLike(line),
  total: regex(/^\d+\.\d{3}$/, "3.000"),
});

describe("consumer (a client team's test)", () => {
  it("records the login, order, read and cancel the web shop relies on", async () => {
    mkdirSync(PACTS, { recursive: true });
    const pact = new PactV3({ consumer: CONSUMER, provider: PROVIDER, dir: PACTS, logLevel: "warn" });
    pact
      .given("a user exists", SHOPPER)
      .uponReceiving("a login")
      .withRequest({ method: "POST", path: "/api/token/", headers: { "Content-Type": "application/json" }, body: SHOPPER })
      .willRespondWith({
        status: 200,
        headers: { "Content-Type": "application/json; charset=utf-8" },
        body: { access: like(EXAMPLE_TOKEN), refresh: like(EXAMPLE_TOKEN) },
      });
    pact
      .given("a user exists", SHOPPER)
      .given("a product with stock N exists", { stock: 10 })
      .uponReceiving("an order of 2 units")
      .withRequest({
        method: "POST",
        path: "/api/order/",
        headers: { Authorization: bearer, "Content-Type": "application/json" },
        body: { products: [{ id: fromProviderState(stateValue("productId"), 1), quantity: 2 }] },
      })
      .willRespondWith({ status: 201, body: order("created") });
    pact
      .given("an order exists")
      .uponReceiving("a read of the order")
      .withRequest({ method: "GET", path: fromProviderState(`/api/order/${stateValue("orderId")}`, "/api/order/1"), headers: { Authorization: bearer } })
      .willRespondWith({ status: 200, body: order("created") });
    pact
      .given("an order exists")
      .uponReceiving("a cancel of the order, without a body")
      .withRequest({
        method: "POST",
        path: fromProviderState(`/api/order/${stateValue("orderId")}/cancel`, "/api/order/1/cancel"),
        headers: { Authorization: bearer },
      })
      .willRespondWith({ status: 200, body: order("cancelled") });

    await pact.executeTest(async (mock) => {
      const shop = shopClient(mock.url);
      const login = await shop.login(SHOPPER.name, SHOPPER.password);
      expect(login.status).toBe(200);
      const placed = await shop.order(login.body.access, 1, 2);
      expect(placed).toMatchObject({ status: 201, body: { status: "created", total: "3.000" } });
      expect((await shop.read(login.body.access, 1)).body.status).toBe("created");
      expect((await shop.cancel(login.body.access, 1)).body).toMatchObject({ status: "cancelled", cancelled_at: expect.any(String) });
    });
    const written = JSON.parse(readFileSync(join(PACTS, `${CONSUMER}-${PROVIDER}.json`), "utf8"));
    expect(written.interactions.map((i: { description: string }) => i.description).sort()).toEqual([
      "a cancel of the order, without a body",
      "a login",
      "a read of the order",
      "an order of 2 units",
    ]);
  }, 60_000);
});

describe("provider verification (this service)", () => {
  let t: TestApp;
  let baseUrl: string;
  let admin: string;
  /** The access token of the user the current interaction's state made. */
  let token: string | undefined;

  beforeAll(async () => {
    t = await startTestApp();
    baseUrl = await t.app.listen({ host: "127.0.0.1", port: 0 });
    admin = (await t.login(ADMIN.name, ADMIN.password)).access;
  });
  afterAll(() => t.close());

  /** Registers the user unless it exists already, logs in and uses its token. */
  async function userExists(params: { name?: string; password?: string } = {}) {
    const credentials = { name: params.name ?? SHOPPER.name, password: params.password ?? SHOPPER.password };
    const login = await t.request({ method: "POST", url: "/api/token/", payload: credentials });
    if (login.statusCode === 200) return void (token = login.json().access);
    const registered = await t.request({ method: "POST", url: "/api/register/", payload: credentials });
    if (registered.statusCode !== 201) throw new Error(`state "a user exists": ${registered.body}`);
    token = (await t.login(credentials.name, credentials.password)).access;
  }

  const stateHandlers = {
    // `unknown` parameters: Pact types these handlers for HTTP states (a JSON map) and message states (a name) at once.
    "a user exists": (params?: unknown) => userExists(params as { name?: string; password?: string }),
    "a product with stock N exists": async (params?: unknown) => {
      const stock = Number((params as { stock?: number } | undefined)?.stock ?? 10);
      const product = await createProduct(viaApp(t), admin, { name: `Pact Tea ${Date.now()}`, price: "1.5", stock });
      return { productId: product.id };
    },
    "an order exists": async () => {
      await userExists();
      const product = await createProduct(viaApp(t), admin, { name: `Pact Tea ${Date.now()}`, price: "1.5", stock: 10 });
      const placed = await t.request({ method: "POST", url: "/api/order/", token, payload: { products: [{ id: product.id, quantity: 2 }] } });
      if (placed.statusCode !== 201) throw new Error(`state "an order exists": ${placed.body}`);
      return { orderId: placed.json().id };
    },
  };

  it("verifies every interaction of the pacts in artifacts/pacts against the running service", async () => {
    const pactFile = join(PACTS, `${CONSUMER}-${PROVIDER}.json`);
    expect(existsSync(pactFile), `${pactFile} is missing: the consumer test above did not write it`).toBe(true);
    const verified = await new Verifier({
      provider: PROVIDER,
      providerBaseUrl: baseUrl,
      pactUrls: [pactFile],
      stateHandlers,
      // The pact holds an example token; each request goes with the token of its state's user.
      requestFilter: (request: { headers: Record<string, string | string[] | undefined> }, _response: unknown, next: () => void) => {
        if (request.headers.authorization && token) request.headers.authorization = `Bearer ${token}`;
        next();
      },
      logLevel: "warn",
    }).verifyProvider();
    expect(verified).toBeDefined();
  }, 120_000);
});
