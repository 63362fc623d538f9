// Cancelling an order (POST /api/order/{id}/cancel) and order lines that keep their product id.
// The concurrent cases over TCP are in order-cancellation-concurrency.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { SPEC_LIMITS } from "../../src/infra/spec-limits.js";
import { createProduct, viaApp } from "../helpers/factories.js";

let t: TestApp;
let admin: string;
let alice: { id: string; access: string };
let bob: { id: string; access: string };
beforeAll(async () => {
  t = await startTestApp();
  admin = await t.adminToken();
  alice = await t.createUser();
  bob = await t.createUser();
});
afterAll(() => t.close());

const product = async (name: string, stock: number, price = "2.5") => (await createProduct(viaApp(t), admin, { name, price, stock })).id;
async function order(token: string, products: { id: number; quantity: number }[], headers: Record<string, string> = {}) {
  const response = await t.request({ method: "POST", url: "/api/order/", token, payload: { products }, headers });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}
const cancel = (token: string, id: number, slash = "") => t.request({ method: "POST", url: `/api/order/${id}/cancel${slash}`, token });
const stockOf = async (id: number) => (await t.database.prisma.product.findUniqueOrThrow({ where: { id } })).stock;
async function metric(name: string): Promise<number> {
  const text = (await t.request({ url: "/metrics" })).body;
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
}

describe("cancelling an order", () => {
  it("puts every line back in stock, once, and shows the order cancelled everywhere", async () => {
    const a = await product("Cancel Tea", 20);
    const b = await product("Cancel Cake", 5, "4");
    const placed = await order(alice.access, [
      { id: b, quantity: 2 },
      { id: a, quantity: 7 },
    ]);
    expect(placed).toMatchObject({ status: "created", cancelled_at: null });
    expect([await stockOf(a), await stockOf(b)]).toEqual([13, 3]);
    const [cancelsBefore, returnedBefore] = [await metric("orders_cancelled_total"), await metric("order_units_returned_total")];

    const before = Date.now();
    const answer = await cancel(alice.access, placed.id);
    expect(answer.statusCode, answer.body).toBe(200);
    const cancelled = answer.json();
    expect(cancelled).toEqual({ ...placed, status: "cancelled", cancelled_at: expect.any(String) });
    expect(Date.parse(cancelled.cancelled_at)).toBeGreaterThanOrEqual(before - 1000);
    expect([await stockOf(a), await stockOf(b)]).toEqual([20, 5]);
    expect((await t.request({ url: `/api/order/${placed.id}`, token: alice.access })).json()).toEqual(cancelled);
    const list = (await t.request({ url: "/api/order/", token: alice.access })).json();
    expect(list.results.find((o: { id: number }) => o.id === placed.id)).toEqual(cancelled);
    expect(await metric("orders_cancelled_total")).toBe(cancelsBefore + 1);
    expect(await metric("order_units_returned_total")).toBe(returnedBefore + 9);

    const again = await cancel(alice.access, placed.id);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: "order-already-cancelled", status: 409, instance: `/api/order/${placed.id}/cancel` });
    expect(again.json().detail).toContain(cancelled.cancelled_at);
    expect((await cancel(admin, placed.id)).statusCode).toBe(409);
    expect([await stockOf(a), await stockOf(b)]).toEqual([20, 5]);
    expect(await metric("orders_cancelled_total")).toBe(cancelsBefore + 1);
    expect((await t.request({ url: `/api/order/${placed.id}`, token: alice.access })).json()).toEqual(cancelled);
  });

  it("answers 404 for someone else's order and changes nothing; an admin may cancel anyone's", async () => {
    const a = await product("Foreign Tea", 10);
    const placed = await order(alice.access, [{ id: a, quantity: 4 }]);
    const foreign = await cancel(bob.access, placed.id);
    expect(foreign.statusCode).toBe(404);
    // The same answer as for an order that does not exist: nothing tells the two apart.
    const missing = await cancel(bob.access, 2_000_000_000);
    expect({ ...foreign.json(), instance: "", request_id: "" }).toEqual({ ...missing.json(), detail: foreign.json().detail, instance: "", request_id: "" });
    expect(foreign.json().detail).toBe(`Order ${placed.id} does not exist.`);
    expect(await stockOf(a)).toBe(6);
    expect((await t.request({ url: `/api/order/${placed.id}`, token: alice.access })).json().status).toBe("created");

    const byAdmin = await cancel(admin, placed.id, "/");
    expect(byAdmin.statusCode).toBe(200);
    expect(byAdmin.json()).toMatchObject({ id: placed.id, status: "cancelled" });
    expect(await stockOf(a)).toBe(10);
    expect((await cancel(alice.access, placed.id)).statusCode).toBe(409);
  });

  it("is served with and without the trailing slash, and refuses a bad id with 400", async () => {
    const a = await product("Slash Tea", 3);
    const placed = await order(bob.access, [{ id: a, quantity: 1 }]);
    expect((await cancel(bob.access, placed.id, "/")).statusCode).toBe(200);
    expect((await cancel(bob.access, placed.id)).statusCode).toBe(409);
    const bad = await t.request({ method: "POST", url: "/api/order/abc/cancel", token: bob.access });
    expect(bad.statusCode).toBe(400);
    expect((await t.request({ method: "POST", url: `/api/order/${placed.id}/cancel` })).statusCode).toBe(401);
  });

  it("restocks the lines whose product still exists and keeps the deleted product's line as it was", async () => {
    const kept = await product("Kept Tea", 10);
    const gone = await product("Gone Tea", 10, "1.25");
    const placed = await order(alice.access, [
      { id: gone, quantity: 3 },
      { id: kept, quantity: 2 },
    ]);
    expect((await t.request({ method: "DELETE", url: `/api/product/${gone}`, token: admin })).statusCode).toBe(204);
    const returnedBefore = await metric("order_units_returned_total");

    const answer = await cancel(alice.access, placed.id);
    expect(answer.statusCode).toBe(200);
    expect(answer.json().items).toEqual(placed.items);
    expect(answer.json().items[0]).toEqual({ product_id: gone, name: "Gone Tea", quantity: 3, unit_price: "1.250", line_total: "3.750" });
    expect(await stockOf(kept)).toBe(10);
    expect(await t.database.prisma.product.findUnique({ where: { id: gone } })).toBeNull();
    expect(await metric("order_units_returned_total")).toBe(returnedBefore + 2);
  });

  it("leaves an Idempotency-Key retry answering the order as first placed, and takes no stock again", async () => {
    const a = await product("Replay Tea", 10);
    const headers = { "idempotency-key": "cancel-replay-1" };
    const placed = await order(alice.access, [{ id: a, quantity: 2 }], headers);
    expect((await cancel(alice.access, placed.id)).statusCode).toBe(200);
    const retry = await t.request({ method: "POST", url: "/api/order/", token: alice.access, payload: { products: [{ id: a, quantity: 2 }] }, headers });
    expect(retry.statusCode).toBe(201);
    expect(retry.headers["idempotent-replayed"]).toBe("true");
    expect(retry.json()).toEqual(placed);
    expect(await stockOf(a)).toBe(10);
  });

  it("answers 500 when the order cannot be changed, not 404, and changes nothing", async () => {
    const a = await product("Broken Tea", 10);
    const placed = await order(bob.access, [{ id: a, quantity: 1 }]);
    await t.database.pool.query("ALTER TABLE order_items RENAME TO order_items_gone");
    try {
      const answer = await cancel(bob.access, placed.id);
      expect(answer.statusCode).toBe(500);
      expect(answer.json().code).toBe("internal-error");
    } finally {
      await t.database.pool.query("ALTER TABLE order_items_gone RENAME TO order_items");
    }
    expect(await stockOf(a)).toBe(9);
    expect((await t.request({ url: `/api/order/${placed.id}`, token: bob.access })).json().status).toBe("created");
  });
});

describe("cancelling an order whose products were restocked up to the maximum since", () => {
  const MAX = SPEC_LIMITS.maxStock;
  /** The product as a client reads it: body and ETag (which changes with every write). */
  async function productBody(id: number) {
    const answer = await t.request({ url: `/api/product/${id}`, token: admin });
    expect(answer.statusCode, answer.body).toBe(200);
    return { ...answer.json(), etag: answer.headers.etag };
  }
  const patch = (id: number, payload: object) => t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, payload });

  it("answers 409 stock-out-of-range naming the product and the maximum, and changes nothing until the stock makes room", async () => {
    const full = await product("Brim Tea", MAX);
    const other = await product("Brim Cake", 10, "4");
    const placed = await order(alice.access, [
      { id: other, quantity: 3 },
      { id: full, quantity: 5 },
    ]);
    // An admin restocks the product back to the maximum while the order is open.
    expect((await patch(full, { stock_delta: 5 })).json().stock).toBe(MAX);
    const before = {
      full: await productBody(full),
      other: await productBody(other),
      order: (await t.request({ url: `/api/order/${placed.id}`, token: alice.access })).json(),
    };
    const [cancelsBefore, returnedBefore] = [await metric("orders_cancelled_total"), await metric("order_units_returned_total")];

    for (const token of [alice.access, admin]) {
      const refused = await cancel(token, placed.id);
      expect(refused.statusCode, refused.body).toBe(409);
      expect(refused.headers["content-type"]).toMatch(/^application\/problem\+json/);
      const problem = refused.json();
      expect(problem).toMatchObject({ code: "stock-out-of-range", status: 409, title: "Stock out of range", instance: `/api/order/${placed.id}/cancel` });
      expect(problem.detail).toContain(`product ${full} (Brim Tea) has ${MAX} in stock, and putting back its 5 would take it above the maximum of ${MAX}`);
      expect(problem.detail).toContain(String(MAX));
      expect(problem.detail).not.toContain("Brim Cake");
    }
    // Nothing changed: the order, both products (stock, version, updated_at) and the counters.
    expect(before.order).toEqual(placed);
    expect((await t.request({ url: `/api/order/${placed.id}`, token: alice.access })).json()).toEqual(placed);
    expect(await productBody(full)).toEqual(before.full);
    expect(await productBody(other)).toEqual(before.other);
    expect([await stockOf(full), await stockOf(other)]).toEqual([MAX, 7]);
    expect(await metric("orders_cancelled_total")).toBe(cancelsBefore);
    expect(await metric("order_units_returned_total")).toBe(returnedBefore);

    // Once there is room for every line, the same cancel goes through and puts all of it back.
    expect((await patch(full, { stock_delta: -5 })).json().stock).toBe(MAX - 5);
    const cancelled = await cancel(alice.access, placed.id);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json()).toMatchObject({ id: placed.id, status: "cancelled" });
    expect([await stockOf(full), await stockOf(other)]).toEqual([MAX, 10]);
    expect(await metric("orders_cancelled_total")).toBe(cancelsBefore + 1);
    expect(await metric("order_units_returned_total")).toBe(returnedBefore + 8);
  });

  it("refuses when a stock set near the maximum leaves less room than the line, naming every product that has none", async () => {
    const a = await product("Near Tea", 100);
    const b = await product("Near Cake", 100);
    const c = await product("Near Jam", 100);
    const placed = await order(bob.access, [
      { id: a, quantity: 2 },
      { id: b, quantity: 3 },
      { id: c, quantity: 4 },
    ]);
    // One unit short of room for a's line, exactly room for b's, and c far from the maximum.
    expect((await t.request({ method: "PUT", url: `/api/product/${a}`, token: admin, payload: { stock: MAX - 1 } })).statusCode).toBe(200);
    expect((await t.request({ method: "PUT", url: `/api/product/${b}`, token: admin, payload: { stock: MAX - 3 } })).statusCode).toBe(200);
    const refused = await cancel(bob.access, placed.id);
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.json().code).toBe("stock-out-of-range");
    expect(refused.json().detail).toContain(`product ${a} (Near Tea) has ${MAX - 1} in stock, and putting back its 2`);
    expect(refused.json().detail).not.toContain("Near Cake");
    expect([await stockOf(a), await stockOf(b), await stockOf(c)]).toEqual([MAX - 1, MAX - 3, 96]);
    expect((await t.request({ url: `/api/order/${placed.id}`, token: bob.access })).json().status).toBe("created");

    expect((await t.request({ method: "PUT", url: `/api/product/${a}`, token: admin, payload: { stock: MAX - 2 } })).statusCode).toBe(200);
    expect((await cancel(admin, placed.id)).statusCode).toBe(200);
    expect([await stockOf(a), await stockOf(b), await stockOf(c)]).toEqual([MAX, MAX, 100]);
  });
});

describe("order lines after their product is deleted", () => {
  it("keep the product id they were placed with, beside its name and price", async () => {
    const a = await product("Ephemeral Tea", 10, "3.3");
    const placed = await order(bob.access, [{ id: a, quantity: 2 }]);
    expect((await t.request({ method: "DELETE", url: `/api/product/${a}`, token: admin })).statusCode).toBe(204);
    const history = await t.request({ url: `/api/order/${placed.id}`, token: bob.access });
    expect(history.json().items).toEqual([{ product_id: a, name: "Ephemeral Tea", quantity: 2, unit_price: "3.300", line_total: "6.600" }]);
    const rows = await t.database.pool.query("SELECT product_id FROM order_items WHERE order_id = $1", [placed.id]);
    expect(rows.rows).toEqual([{ product_id: a }]);
  });
});
