import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrdersRepository } from "../../src/orders/orders-repository.js";
import { toOrderBody } from "../../src/orders/handlers.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
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

const product = async (name: string, price: string, stock: number) => (await createProduct(viaApp(t), admin, { name, price, stock })).id;
const order = (token: string, products: unknown, headers: Record<string, string> = {}) =>
  t.request({ method: "POST", url: "/api/order/", token, payload: { products }, headers });
const stockOf = async (id: number) => (await t.database.prisma.product.findUniqueOrThrow({ where: { id } })).stock;
const tableCounts = async () => ({
  orders: await t.database.prisma.order.count(),
  items: await t.database.prisma.orderItem.count(),
  keys: await t.database.prisma.idempotencyKey.count(),
});

describe("placing orders", () => {
  it("finding 4: the largest order the spec allows is placed (201) with its exact total, never a 500 overflow", async () => {
    // 100 lines (OrderInput.maxItems) of 10000 units (the maximum) at 9999999.999 (PriceInput.maximum).
    // Before: two such lines already overflowed total numeric(14,3): 500 "numeric field overflow".
    const ids = await Promise.all(Array.from({ length: 100 }, (_, i) => product(`Gold bar ${i}`, "9999999.999", 20_000)));
    const twoLines = await order(bob.access, [
      { id: ids[0], quantity: 10_000 },
      { id: ids[1], quantity: 10_000 },
    ]);
    expect(twoLines.statusCode).toBe(201);
    expect(twoLines.json().total).toBe("199999999980.000");
    const largest = await order(
      alice.access,
      ids.map((id) => ({ id, quantity: 10_000 })),
    );
    expect(largest.statusCode).toBe(201);
    expect(largest.json().total).toBe("9999999999000.000");
    expect(largest.json().items[99].line_total).toBe("99999999990.000");
    expect((await t.request({ url: `/api/order/${largest.json().id}`, token: alice.access })).json().total).toBe("9999999999000.000");
  });

  it("takes the stock and answers the order with exact money", async () => {
    const a = await product("Espresso", "2.2", 100);
    const b = await product("Croissant", "1.15", 50);
    const response = await order(alice.access, [
      { id: a, quantity: 15 },
      { id: b, quantity: 13 },
    ]);
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toMatchObject({
      status: "created",
      items: [
        { product_id: a, name: "Espresso", quantity: 15, unit_price: "2.200", line_total: "33.000" },
        { product_id: b, name: "Croissant", quantity: 13, unit_price: "1.150", line_total: "14.950" },
      ],
      total: "47.950",
    });
    expect(response.headers.location).toBe(`/api/order/${body.id}`);
    expect(await stockOf(a)).toBe(85);
    expect(await stockOf(b)).toBe(37);
  });

  it("writes nothing when the last line is short, and names each short product", async () => {
    const a = await product("Bagel", "3", 10);
    const b = await product("Muffin", "2", 1);
    const before = await tableCounts();
    const response = await order(alice.access, [
      { id: a, quantity: 5 },
      { id: b, quantity: 3 },
    ]);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      code: "insufficient-stock",
      errors: [{ path: "/body/products/1/quantity", product_id: b, requested: 3, available: 1 }],
    });
    expect(await stockOf(a)).toBe(10);
    expect(await stockOf(b)).toBe(1);
    expect(await tableCounts()).toEqual(before);
  });

  it("takes nothing when a middle line is short, whatever the order of the lines, and names only that line", async () => {
    const a = await product("Trio A", "1", 5);
    const b = await product("Trio B", "2", 2);
    const c = await product("Trio C", "3", 5);
    const before = await tableCounts();
    const response = await order(alice.access, [
      { id: c, quantity: 5 },
      { id: b, quantity: 3 },
      { id: a, quantity: 1 },
    ]);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      code: "insufficient-stock",
      errors: [
        {
          path: "/body/products/1/quantity",
          code: "insufficient-stock",
          message: "Trio B: 3 requested, 2 available",
          product_id: b,
          requested: 3,
          available: 2,
        },
      ],
    });
    expect(response.json().errors).toHaveLength(1);
    expect([await stockOf(a), await stockOf(b), await stockOf(c)]).toEqual([5, 2, 5]);
    expect(await tableCounts()).toEqual(before);
    const placed = await order(alice.access, [
      { id: c, quantity: 5 },
      { id: b, quantity: 2 },
      { id: a, quantity: 1 },
    ]);
    expect(placed.json().items.map((i: { product_id: number }) => i.product_id)).toEqual([c, b, a]);
    expect([await stockOf(a), await stockOf(b), await stockOf(c)]).toEqual([4, 0, 0]);
  });

  it("sells exactly the last unit", async () => {
    const a = await product("Last Cake", "5", 2);
    expect((await order(alice.access, [{ id: a, quantity: 2 }])).statusCode).toBe(201);
    expect(await stockOf(a)).toBe(0);
    expect((await order(alice.access, [{ id: a, quantity: 1 }])).statusCode).toBe(400);
  });

  it.each([
    ["missing products", undefined],
    ["an empty order", []],
    ["a zero quantity", [{ id: 1, quantity: 0 }]],
    ["a negative quantity", [{ id: 1, quantity: -3 }]],
    ["a fractional quantity", [{ id: 1, quantity: 1.5 }]],
    ["a quantity as a string", [{ id: 1, quantity: "5" }]],
    ["a quantity above the maximum", [{ id: 1, quantity: 10001 }]],
    ["a missing id", [{ quantity: 1 }]],
    ["more than 100 lines", Array.from({ length: 101 }, (_, i) => ({ id: i + 1, quantity: 1 }))],
  ])("refuses %s with 400 and writes nothing", async (_label, products) => {
    const before = await tableCounts();
    const response = await t.request({ method: "POST", url: "/api/order/", token: alice.access, payload: products === undefined ? {} : { products } });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe("validation-failed");
    expect(await tableCounts()).toEqual(before);
  });

  it("refuses the same product twice", async () => {
    const a = await product("Twice", "1", 10);
    const response = await order(alice.access, [
      { id: a, quantity: 1 },
      { id: a, quantity: 2 },
    ]);
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([expect.objectContaining({ path: "/body/products/1/id", code: "duplicate-product" })]);
    expect(await stockOf(a)).toBe(10);
  });

  it("refuses unknown products by id", async () => {
    const a = await product("Known", "1", 10);
    const response = await order(alice.access, [
      { id: a, quantity: 1 },
      { id: 987654, quantity: 1 },
    ]);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: "unknown-product", errors: [{ product_id: 987654, path: "/body/products/1/id" }] });
    expect(await stockOf(a)).toBe(10);
  });

  it("cannot set stock or prices through an order", async () => {
    const a = await product("Sneaky", "1", 10);
    const response = await order(alice.access, [{ id: a, quantity: 1, stock: 1000, price: "0" }]);
    expect(response.statusCode).toBe(400);
    expect(await stockOf(a)).toBe(10);
  });
});

describe("reading orders", () => {
  it("lists the caller's own orders, newest first, paginated", async () => {
    const a = await product("Reader Tea", "1", 100);
    const user = await t.createUser();
    const ids: number[] = [];
    for (let i = 1; i <= 3; i++) ids.push((await order(user.access, [{ id: a, quantity: i }])).json().id);
    await order(bob.access, [{ id: a, quantity: 1 }]);
    const page = (await t.request({ url: "/api/order/?limit=2", token: user.access })).json();
    expect(page.count).toBe(3);
    expect(page.results.map((o: { id: number }) => o.id)).toEqual([ids[2], ids[1]]);
    expect(page.next).toMatch(/\/api\/order\/\?limit=2&offset=2$/);
  });
});

describe("idempotency", () => {
  it("answers a retry with the first order and takes stock once", async () => {
    const a = await product("Retry Tea", "2", 10);
    const headers = { "idempotency-key": "retry-1" };
    const first = await order(alice.access, [{ id: a, quantity: 3 }], headers);
    const second = await order(alice.access, [{ id: a, quantity: 3 }], headers);
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(201);
    expect(second.json()).toEqual(first.json());
    expect(second.headers["idempotent-replayed"]).toBe("true");
    expect(await stockOf(a)).toBe(7);
  });

  it("refuses the same key with another body", async () => {
    const a = await product("Mismatch Tea", "2", 10);
    const headers = { "idempotency-key": "mismatch-1" };
    await order(alice.access, [{ id: a, quantity: 1 }], headers);
    const other = await order(alice.access, [{ id: a, quantity: 2 }], headers);
    expect(other.statusCode).toBe(422);
    expect(other.json().code).toBe("idempotency-key-reused");
    expect(await stockOf(a)).toBe(9);
  });

  it("keeps keys per user", async () => {
    const a = await product("Per User Tea", "2", 10);
    const headers = { "idempotency-key": "shared-key" };
    const mine = await order(alice.access, [{ id: a, quantity: 1 }], headers);
    const theirs = await order(bob.access, [{ id: a, quantity: 1 }], headers);
    expect(theirs.json().id).not.toBe(mine.json().id);
    expect(await stockOf(a)).toBe(8);
  });

  it("creates one order for concurrent requests with one key", async () => {
    const a = await product("Race Tea", "2", 100);
    const headers = { "idempotency-key": "race-1" };
    const answers = await Promise.all(Array.from({ length: 8 }, () => order(alice.access, [{ id: a, quantity: 1 }], headers)));
    expect(answers.map((r) => r.statusCode)).toEqual(Array(8).fill(201));
    expect(new Set(answers.map((r) => r.json().id)).size).toBe(1);
    expect(await stockOf(a)).toBe(99);
  });

  it("keeps keys for 24 hours, then forgets them", async () => {
    const a = await product("Expiry Tea", "2", 10);
    const headers = { "idempotency-key": "expiry-1" };
    const first = await order(alice.access, [{ id: a, quantity: 1 }], headers);
    const age = (hours: number) =>
      t.database.pool.query("UPDATE idempotency_keys SET created_at = now() - make_interval(hours => $1) WHERE key = 'expiry-1'", [hours]);
    await age(23);
    expect((await order(alice.access, [{ id: a, quantity: 1 }], headers)).json().id).toBe(first.json().id);
    await age(25);
    const later = await order(alice.access, [{ id: a, quantity: 1 }], headers);
    expect(later.json().id).not.toBe(first.json().id);
    expect(await stockOf(a)).toBe(8);
    await age(25);
    expect(await new OrdersRepository(t.database.prisma, toOrderBody).purgeIdempotencyKeys()).toBeGreaterThanOrEqual(1);
    expect((await t.database.pool.query("SELECT count(*)::int AS n FROM idempotency_keys WHERE key = 'expiry-1'")).rows[0].n).toBe(0);
  });

  it("refuses an invalid key", async () => {
    const a = await product("Bad Key Tea", "2", 10);
    const response = await order(alice.access, [{ id: a, quantity: 1 }], { "idempotency-key": "x".repeat(256) });
    expect(response.statusCode).toBe(400);
    expect(await stockOf(a)).toBe(10);
  });
});
