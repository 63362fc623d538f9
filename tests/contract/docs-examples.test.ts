// The docs page's "Try it out" sends the spec's examples as they stand: on a new database, the
// product example then the order example must work, and the order twice in a row.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSpec } from "../../src/infra/spec.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { specOperations } from "../helpers/spec-operations.js";

type Json = Record<string, any>;
const spec = loadSpec() as Json;
const operation = (id: string) => specOperations.find((op) => op.operationId === id)!;

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe("the docs page's examples", () => {
  it("pre-fill no Idempotency-Key: a fixed one would refuse the second try with another body", () => {
    const parameter = (spec.paths["/api/order/"].post.parameters as Json[]).find((p) => p.name === "Idempotency-Key")!;
    expect(parameter.example).toBeUndefined();
    expect(parameter.examples).toBeUndefined();
    expect(parameter.schema.example).toBeUndefined();
    expect(parameter.schema.default).toBeUndefined();
  });

  it("place an order on a new database after the product example, twice in a row", async () => {
    const token = await t.adminToken();
    const product = await t.request({ method: "POST", url: "/api/product/", token, payload: operation("createProduct").bodyExample as object });
    expect(product.statusCode).toBe(201);
    const orderExample = operation("createOrder").bodyExample as { products: { id: number; quantity: number }[] };
    expect(orderExample.products.map((line) => line.id)).toEqual([product.json().id]);
    for (const attempt of [1, 2]) {
      const order = await t.request({ method: "POST", url: "/api/order/", token, payload: orderExample });
      expect(order.statusCode, `attempt ${attempt}: ${order.body}`).toBe(201);
      expect(order.json().items).toHaveLength(1);
    }
  });

  it("offer the user's bearer token first in the Authorize dialog, the metrics token last", () => {
    const schemes = Object.keys(spec.components.securitySchemes);
    expect(schemes[0]).toBe("bearerAuth");
    expect(schemes.at(-1)).toBe("metricsToken");
    expect(spec.components.securitySchemes.metricsToken.description).toMatch(/operators only/i);
  });
});
