// Proof that the contract checks bite: a copy of openapi.yaml is changed on purpose, and what the
// service really answers no longer passes. (The suite runs against the real spec, so the same
// checks fail CI when a handler drifts from openapi.yaml.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSpec } from "../../src/infra/spec.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { ContractViolation, createContractChecker, type OpenApiDocument } from "../helpers/contract.js";

type Json = Record<string, any>;
let t: TestApp;
let productId: number;
beforeAll(async () => {
  t = await startTestApp();
  const created = await t.request({ method: "POST", url: "/api/product/", token: await t.adminToken(), payload: { name: "Guarded", price: "1", stock: 1 } });
  productId = created.json().id;
});
afterAll(() => t.close());

/** openapi.yaml with Product.price renamed to unit_cost. */
function specWithRenamedField(): Json {
  const spec = loadSpec() as Json;
  const product = spec.components.schemas.Product;
  product.properties.unit_cost = product.properties.price;
  delete product.properties.price;
  product.required = product.required.map((name: string) => (name === "price" ? "unit_cost" : name));
  return spec;
}

describe("the contract checks", () => {
  it("pass the real answer against the real spec (control)", async () => {
    const response = await t.request({ url: `/api/product/${productId}`, token: await t.adminToken() });
    expect(response.statusCode).toBe(200);
  });

  it("fail a response whose field was renamed", async () => {
    const response = await t.app.inject({ url: `/api/product/${productId}`, headers: { authorization: `Bearer ${await t.adminToken()}` } });
    const checker = createContractChecker(specWithRenamedField() as OpenApiDocument);
    expect(() => checker.check("GET", `/api/product/${productId}`, response)).toThrow(ContractViolation);
    expect(() => checker.check("GET", `/api/product/${productId}`, response)).toThrow(/unit_cost/);
  });

  it("fail a status the spec does not document", async () => {
    const response = await t.app.inject({ url: "/api/product/999999", headers: { authorization: `Bearer ${await t.adminToken()}` } });
    expect(response.statusCode).toBe(404);
    const spec = loadSpec() as Json;
    delete spec.paths["/api/product/{id}"].get.responses["404"];
    const checker = createContractChecker(spec as OpenApiDocument);
    expect(() => checker.check("GET", "/api/product/999999", response)).toThrow(/status 404 is not documented for getProduct/);
  });

  it("stop a handler from answering a shape its spec does not have", async () => {
    const drifted = await startTestApp({}, { specification: specWithRenamedField() });
    try {
      const token = await drifted.adminToken();
      await drifted.app.inject({
        method: "POST",
        url: "/api/product/",
        headers: { authorization: `Bearer ${token}` },
        payload: { name: "Drift", price: "1", stock: 1 },
      });
      // The serializer built from the changed spec refuses the handler's `price`-shaped product.
      const response = await drifted.app.inject({ url: "/api/product/1", headers: { authorization: `Bearer ${token}` } });
      expect(response.statusCode).toBe(500);
      // The app serves the document it was built with, in every form.
      for (const url of ["/openapi.json", "/docs/json"]) {
        const served = (await drifted.app.inject({ url })).json();
        expect(served.components.schemas.Product.properties).toHaveProperty("unit_cost");
        expect(served.components.schemas.Product.properties).not.toHaveProperty("price");
      }
      expect((await drifted.app.inject({ url: "/openapi.yaml" })).body).toMatch(/^\s+unit_cost:/m);
    } finally {
      await drifted.close();
    }
  }, 60_000); // starts an app of its own: most of the default 20 s on a busy machine
});
