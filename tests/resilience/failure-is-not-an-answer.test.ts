// A failure of ours never passes for an answer: a database that fails while a valid token is
// checked is a 5xx, never a 401, and a read that fails is an error, never "not found".
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRINCIPAL_TTL_MS } from "../../src/accounts/authentication.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";

let t: TestApp;
let user: Awaited<ReturnType<TestApp["createUser"]>>;
let productId: number;
let orderId: number;
beforeAll(async () => {
  t = await startTestApp();
  const admin = await t.adminToken();
  productId = (await createProduct(viaApp(t), admin, { name: "Failing Tea", price: "1", stock: 5 })).id;
  user = await t.createUser();
  orderId = (await t.request({ method: "POST", url: "/api/order/", token: user.access, payload: { products: [{ id: productId, quantity: 1 }] } })).json().id;
});
afterAll(() => t.close());

/** Renames a table for the duration of `check`, so every query on it fails. */
async function withTableGone(table: string, check: () => Promise<void>): Promise<void> {
  await sleep(PRINCIPAL_TTL_MS + 100); // the user is read again, not taken from the cache
  await t.database.pool.query(`ALTER TABLE ${table} RENAME TO ${table}_gone`);
  try {
    await check();
  } finally {
    await t.database.pool.query(`ALTER TABLE ${table}_gone RENAME TO ${table}`);
  }
}

describe("a database failure under an authenticated request", () => {
  it("answers 500 while a valid token's user cannot be read, not 401", async () => {
    await withTableGone("users", async () => {
      const answer = await t.request({ method: "GET", url: `/api/user/${user.id}`, token: user.access });
      expect(answer.statusCode).toBe(500);
      expect(answer.json().code).toBe("internal-error");
    });
    const after = await t.request({ method: "GET", url: `/api/user/${user.id}`, token: user.access });
    expect(after.statusCode).toBe(200);
    expect(after.json().name).toBe(user.name);
  });

  it("answers 500 when a product cannot be read, not 404", async () => {
    await withTableGone("products", async () => {
      const answer = await t.request({ method: "GET", url: `/api/product/${productId}`, token: user.access });
      expect(answer.statusCode).toBe(500);
    });
    expect((await t.request({ method: "GET", url: `/api/product/${productId}`, token: user.access })).json().name).toBe("Failing Tea");
  });

  it("answers 500 when the caller's own order cannot be read, not 404", async () => {
    await withTableGone("orders", async () => {
      const answer = await t.request({ method: "GET", url: `/api/order/${orderId}`, token: user.access });
      expect(answer.statusCode).toBe(500);
    });
    expect((await t.request({ method: "GET", url: `/api/order/${orderId}`, token: user.access })).json().id).toBe(orderId);
  });
});
