// A burst of concurrent orders from distinct users over real TCP (issue 27, finding 8), on a
// database seeded straight through SQL: registering hundreds of users would spend the test's
// time on argon2, not on orders. Tokens are signed with the service's JWT_SECRET here.
import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { withClient } from "../../bench/lib/postgres.js";
import { assertMatchesSpec } from "./contract.js";
import { send } from "./http-client.js";
import { craftToken } from "./jwt.js";

export interface BurstPlan {
  orders: number;
  products: number;
  stock: number;
}

export interface Seeded {
  userIds: string[];
  products: { id: number; name: string; price: string }[];
}

interface PlannedOrder {
  userId: string;
  lines: { id: number; quantity: number }[];
  key: string;
}

/** A secret for the service under test, so that the burst can sign its users' tokens. */
export const burstJwtSecret = () => randomUUID() + randomUUID();

/** `plan.orders` users and `plan.products` products with `plan.stock` units each. */
export function seedBurst(url: string, plan: BurstPlan): Promise<Seeded> {
  return withClient(url, async (client) => {
    const users = await client.query<{ id: string }>(
      `INSERT INTO users (id, name, name_key, password_hash, updated_at)
       SELECT gen_random_uuid(), 'burst-' || n, 'burst-' || n, 'not a hash: these users never log in', now() FROM generate_series(1, $1) AS n
       RETURNING id`,
      [plan.orders],
    );
    const products = await client.query<{ id: number; name: string; price: string }>(
      `INSERT INTO products (name, name_key, price, stock, updated_at)
       SELECT 'Burst product ' || n, 'burst product ' || n, (n + 0.25)::numeric(10, 3), $2, now() FROM generate_series(1, $1) AS n
       RETURNING id, name, price::text`,
      [plan.products, plan.stock],
    );
    return { userIds: users.rows.map((row) => row.id), products: products.rows.sort((a, b) => a.id - b.id) };
  });
}

const accessToken = (userId: string, secret: string) => {
  const iat = Math.floor(Date.now() / 1000);
  return craftToken({ alg: "HS256", typ: "JWT" }, { token_type: "access", user_id: userId, jti: randomUUID(), iat, exp: iat + 600 }, secret);
};

/**
 * Every seeded user places one order at once, each with its own Idempotency-Key; order i takes
 * 1 + (i mod 3) units of one product, and odd ones a unit of another. Every answer must be a 201
 * with the lines ordered (checked against the spec too). Returns the orders as planned.
 */
export async function placeOrderBurst(baseUrl: string, seeded: Seeded, secret: string, serverOutput: () => string): Promise<PlannedOrder[]> {
  const { products } = seeded;
  const orders = seeded.userIds.map((userId, i) => {
    const first = products[i % products.length]!;
    const second = products[(i + 2) % products.length]!;
    const lines = [{ id: first.id, quantity: 1 + (i % 3) }, ...(i % 2 ? [{ id: second.id, quantity: 1 }] : [])];
    return { userId, lines, key: randomUUID() };
  });
  const answers = await Promise.all(
    orders.map((order) =>
      send(
        baseUrl,
        {
          method: "POST",
          path: "/api/order/",
          token: accessToken(order.userId, secret),
          headers: { "idempotency-key": order.key },
          body: { products: order.lines },
        },
        { timeoutMs: 60_000 },
      ),
    ),
  );
  const unexpected = answers.filter((answer) => answer.statusCode !== 201).map((answer) => `${answer.statusCode} ${answer.body}`);
  expect(unexpected.slice(0, 5), serverOutput().slice(-2000)).toEqual([]);
  answers.forEach((answer, i) => {
    assertMatchesSpec("POST", "/api/order/", answer);
    const body = answer.json();
    const expected = orders[i]!.lines.map((line) => ({ product_id: line.id, name: products.find((p) => p.id === line.id)!.name, quantity: line.quantity }));
    expect(
      body.items.map(({ product_id, name, quantity }: { product_id: number; name: string; quantity: number }) => ({ product_id, name, quantity })),
    ).toEqual(expected);
    expect(body.status).toBe("created");
    expect(answer.headers.location).toBe(`/api/order/${body.id}`);
  });
  expect(new Set(answers.map((answer) => answer.json().id)).size).toBe(orders.length);
  return orders;
}

/** The ledger: each product's stock fell by exactly the units its lines took; one order and one kept key per order. */
export function expectExactLedger(url: string, plan: BurstPlan, seeded: Seeded, orders: PlannedOrder[]): Promise<void> {
  return withClient(url, async (client) => {
    for (const product of seeded.products) {
      const sold = orders.flatMap((order) => order.lines).reduce((sum, line) => sum + (line.id === product.id ? line.quantity : 0), 0);
      const { rows } = await client.query<{ stock: number; stored: number }>(
        "SELECT p.stock, (SELECT coalesce(sum(quantity), 0)::int FROM order_items WHERE product_id = p.id) AS stored FROM products p WHERE p.id = $1",
        [product.id],
      );
      expect(rows[0]).toEqual({ stock: plan.stock - sold, stored: sold });
    }
    const { rows } = await client.query<{ orders: number; keys: number }>(
      "SELECT (SELECT count(*)::int FROM orders) AS orders, (SELECT count(*)::int FROM idempotency_keys) AS keys",
    );
    expect(rows[0]).toEqual({ orders: orders.length, keys: orders.length });
  });
}
