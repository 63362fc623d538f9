// End to end through the generated client (client/index.ts) against a listening server: a spec
// change that breaks callers breaks this file's compilation and its assertions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrderServiceClient, type OrderServiceClient } from "../../client/index.js";
import { ADMIN } from "../../support/admin.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { assertMatchesSpec } from "../helpers/contract.js";

let t: TestApp;
let baseUrl: string;
let token: string | undefined;
let api: OrderServiceClient;

/** fetch that also checks every answer against openapi.yaml. */
const checkedFetch: typeof fetch = async (input, init) => {
  const request = new Request(input, init);
  const response = await fetch(request);
  const body = await response.clone().text();
  assertMatchesSpec(request.method, new URL(request.url).pathname + new URL(request.url).search, {
    statusCode: response.status,
    headers: Object.fromEntries(response.headers),
    body,
  });
  return response;
};

beforeAll(async () => {
  t = await startTestApp();
  baseUrl = await t.app.listen({ host: "127.0.0.1", port: 0 });
  api = createOrderServiceClient(baseUrl, { token: () => token, fetch: checkedFetch });
});
afterAll(() => t.close());

describe("the generated client", () => {
  it("walks the reference's flow: log in, add a product, order it, read it back", async () => {
    const login = await api.POST("/api/token/", { body: { name: ADMIN.name, password: ADMIN.password } });
    expect(login.response.status).toBe(200);
    token = login.data!.access;

    const created = await api.POST("/api/product/", { body: { name: "Client Cola", price: "2.2", stock: "100" } });
    expect(created.response.status).toBe(201);
    const product = created.data!;
    expect(product.price).toBe("2.200");

    const listed = await api.GET("/api/product/", { params: { query: { keyword: "client", limit: 5 } } });
    expect(listed.data!.results.map((p) => p.id)).toEqual([product.id]);

    const order = await api.POST("/api/order/", {
      params: { header: { "Idempotency-Key": "client-order-1" } },
      body: { products: [{ id: product.id, quantity: 3 }] },
    });
    expect(order.response.status).toBe(201);
    expect(order.data!.total).toBe("6.600");

    const read = await api.GET("/api/order/{id}", { params: { path: { id: order.data!.id } } });
    expect(read.data).toEqual(order.data);
    const stock = await api.GET("/api/product/{id}", { params: { path: { id: product.id } } });
    expect(stock.data!.stock).toBe(97);
  });

  it("returns problems as typed errors", async () => {
    const missing = await api.GET("/api/product/{id}", { params: { path: { id: 424242 } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error!.code).toBe("not-found");
    expect(missing.response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });

  it("reaches the same routes without the trailing slash", async () => {
    const response = await checkedFetch(`${baseUrl}/api/product?limit=1`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
  });
});
