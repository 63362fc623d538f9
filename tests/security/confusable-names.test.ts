// Issue 27, finding 9: "names that look the same can all be registered". Each class of look-alike
// of a taken name got 201 beside it, for users and for products.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, validPassword, viaApp } from "../helpers/factories.js";
import { lookAlikes } from "../helpers/schema-arbitrary.js";

describe("finding 9: confusable and invisible-character names are refused", () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.adminToken();
    await createProduct(viaApp(t), admin, { name: "matcha", price: "3", stock: 5 });
  });
  afterAll(() => t.close());

  const expectConfusable = (response: { statusCode: number; json(): any }, what: string) => {
    expect(response.statusCode, what).toBe(400);
    expect(response.json().errors, what).toEqual([expect.objectContaining({ path: "/body/name", code: "confusable" })]);
  };

  for (const [kind, name] of Object.entries(lookAlikes("admin"))) {
    it(`a user named like "admin" with a ${kind} (before: 201)`, async () => {
      const before = await t.database.prisma.user.count();
      const response = await t.request({ method: "POST", url: "/api/register/", payload: { name, password: validPassword() } });
      expectConfusable(response, kind);
      expect(await t.database.prisma.user.count()).toBe(before);
    });
  }

  for (const [kind, name] of Object.entries(lookAlikes("matcha"))) {
    it(`a product named like "matcha" with a ${kind} (before: 201)`, async () => {
      const before = await t.database.prisma.product.count();
      const response = await t.request({ method: "POST", url: "/api/product/", token: admin, payload: { name, price: "3", stock: 5 } });
      expectConfusable(response, kind);
      expect(await t.database.prisma.product.count()).toBe(before);
    });
  }

  it("ordinary names in one script, accents, symbols, emoji and Japanese with Latin still register", async () => {
    for (const name of ["Café Noir™ ½", "Москва", "東京タワー Tokyo", "👩\u200d🍳 Chef", "Ελληνικά"]) {
      const response = await t.request({ method: "POST", url: "/api/product/", token: admin, payload: { name, price: "1", stock: 1 } });
      expect(response.statusCode, name).toBe(201);
    }
  });
});
