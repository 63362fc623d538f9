import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";

// Runs on both databases; on PostgreSQL (TEST_DB=postgres, as in CI) it is the real proof.
let t: TestApp;
let admin: string;
const clients: { access: string }[] = [];
beforeAll(async () => {
  t = await startTestApp({ DB_POOL_MAX: 10 });
  admin = await t.adminToken();
  for (let i = 0; i < 4; i++) clients.push(await t.createUser());
});
afterAll(() => t.close());

const product = async (name: string, stock: number) => (await createProduct(viaApp(t), admin, { name, stock })).id;

// A small deterministic generator, so a failure can be replayed.
function random(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

describe("under concurrency", () => {
  it("never oversells: units sold equal the stock consumed", async () => {
    const stock = 40;
    const id = await product("Hot Item", stock);
    const next = random(42);
    const attempts = Array.from({ length: 120 }, (_, i) => ({ token: clients[i % clients.length]!.access, quantity: 1 + Math.floor(next() * 3) }));
    const answers = await Promise.all(
      attempts.map(({ token, quantity }) => t.request({ method: "POST", url: "/api/order/", token, payload: { products: [{ id, quantity }] } })),
    );
    const statuses = answers.map((r) => r.statusCode);
    expect(
      statuses.every((s) => s === 201 || s === 400),
      JSON.stringify(
        answers
          .filter((r) => r.statusCode !== 201 && r.statusCode !== 400)
          .map((r) => r.body)
          .slice(0, 3),
      ),
    ).toBe(true);
    const accepted = answers.filter((r) => r.statusCode === 201).map((r) => r.json());
    for (const declined of answers.filter((r) => r.statusCode === 400)) expect(declined.json().code).toBe("insufficient-stock");

    const finalStock = (await t.database.prisma.product.findUniqueOrThrow({ where: { id } })).stock;
    const sold = accepted.reduce((sum, o) => sum + o.items[0].quantity, 0);
    expect(finalStock).toBeGreaterThanOrEqual(0);
    expect(sold).toBe(stock - finalStock);
    expect(finalStock).toBeLessThan(3); // demand far exceeded supply: no unit left that someone could have bought
    const stored = await t.database.prisma.orderItem.aggregate({ where: { productId: id }, _sum: { quantity: true }, _count: true });
    expect(stored._sum.quantity).toBe(sold);
    expect(stored._count).toBe(accepted.length);
  });

  it("runs overlapping orders in opposite product orders without deadlock or 500", async () => {
    const ids = [await product("Overlap A", 1000), await product("Overlap B", 1000), await product("Overlap C", 1000)];
    const forward = ids.map((id) => ({ id, quantity: 1 }));
    const backward = [...forward].reverse();
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        t.request({ method: "POST", url: "/api/order/", token: clients[i % clients.length]!.access, payload: { products: i % 2 ? forward : backward } }),
      ),
    );
    expect(answers.map((r) => r.statusCode)).toEqual(Array(60).fill(201));
    for (const id of ids) {
      expect((await t.database.prisma.product.findUniqueOrThrow({ where: { id } })).stock).toBe(940);
    }
  });
});
