// Issue 27, finding 8, "a busy pool blames the database": 200 concurrent orders on a healthy
// PostgreSQL waited more than 3 s for one of the pool's 10 connections and were answered 503
// "The database is unavailable". A burst of 300 orders from 300 distinct users, over real TCP,
// each with its own Idempotency-Key, on the service as it runs (its own process, the default
// pool), must be served: every answer a 201 with the lines ordered, and the stock ledger exact.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { send } from "../helpers/http-client.js";
import { assertMatchesSpec } from "../helpers/contract.js";
import { craftToken } from "../helpers/jwt.js";
import { startServerProcess } from "../helpers/server-process.js";

const ORDERS = 300;
const PRODUCTS = 5;
const STOCK = 1_000;
const JWT_SECRET = randomUUID() + randomUUID();

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.close());

interface Seeded {
  userIds: string[];
  products: { id: number; name: string; price: string }[];
}

/**
 * Users and products written straight into the database: 300 registrations would spend the
 * test's time on argon2, not on orders. Tokens are signed with the service's secret below.
 */
async function seed(url: string): Promise<Seeded> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const users = await client.query<{ id: string }>(
      `INSERT INTO users (id, name, name_key, password_hash, updated_at)
       SELECT gen_random_uuid(), 'burst-' || n, 'burst-' || n, 'not a hash: these users never log in', now() FROM generate_series(1, $1) AS n
       RETURNING id`,
      [ORDERS],
    );
    const products = await client.query<{ id: number; name: string; price: string }>(
      `INSERT INTO products (name, name_key, price, stock, updated_at)
       SELECT 'Burst product ' || n, 'burst product ' || n, (n + 0.25)::numeric(10, 3), $2, now() FROM generate_series(1, $1) AS n
       RETURNING id, name, price::text`,
      [PRODUCTS, STOCK],
    );
    return { userIds: users.rows.map((row) => row.id), products: products.rows.sort((a, b) => a.id - b.id) };
  } finally {
    await client.end();
  }
}

const accessToken = (userId: string) => {
  const iat = Math.floor(Date.now() / 1000);
  return craftToken({ alg: "HS256", typ: "JWT" }, { token_type: "access", user_id: userId, jti: randomUUID(), iat, exp: iat + 600 }, JWT_SECRET);
};

describe("finding 8: a busy pool does not blame the database", () => {
  it(`serves a burst of ${ORDERS} concurrent orders from distinct users with no 5xx, the stock ledger exact`, async () => {
    const { userIds, products } = await seed(db.url);
    const server = await startServerProcess({ LOG_LEVEL: "warn", DATABASE_URL: db.url, JWT_SECRET, ...db.env });
    onTestFinished(() => void server.child.kill("SIGKILL"));

    // Order i takes 1 + (i mod 3) units of one or two products, so the lines differ between orders.
    const orders = userIds.map((userId, i) => {
      const first = products[i % PRODUCTS]!;
      const second = products[(i + 2) % PRODUCTS]!;
      const lines = [{ id: first.id, quantity: 1 + (i % 3) }, ...(i % 2 ? [{ id: second.id, quantity: 1 }] : [])];
      return { userId, lines, key: randomUUID() };
    });
    const answers = await Promise.all(
      orders.map((order) =>
        send(
          server.baseUrl,
          { method: "POST", path: "/api/order/", token: accessToken(order.userId), headers: { "idempotency-key": order.key }, body: { products: order.lines } },
          { timeoutMs: 60_000 },
        ),
      ),
    );

    const unexpected = answers.filter((answer) => answer.statusCode !== 201).map((answer) => `${answer.statusCode} ${answer.body}`);
    expect(unexpected.slice(0, 5), server.output().slice(-2000)).toEqual([]);
    answers.forEach((answer, i) => {
      assertMatchesSpec("POST", "/api/order/", answer);
      const body = answer.json();
      const expected = orders[i]!.lines.map((line) => {
        const product = products.find((p) => p.id === line.id)!;
        return { product_id: line.id, name: product.name, quantity: line.quantity };
      });
      expect(
        body.items.map(({ product_id, name, quantity }: { product_id: number; name: string; quantity: number }) => ({ product_id, name, quantity })),
      ).toEqual(expected);
      expect(body.status).toBe("created");
      expect(answer.headers.location).toBe(`/api/order/${body.id}`);
    });
    expect(new Set(answers.map((answer) => answer.json().id)).size).toBe(ORDERS);

    // The ledger: each product's stock fell by exactly the units its lines took, and the stored lines agree.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    onTestFinished(() => client.end());
    for (const product of products) {
      const sold = orders.flatMap((order) => order.lines).reduce((sum, line) => sum + (line.id === product.id ? line.quantity : 0), 0);
      const { rows } = await client.query<{ stock: number; stored: number }>(
        "SELECT p.stock, (SELECT coalesce(sum(quantity), 0)::int FROM order_items WHERE product_id = p.id) AS stored FROM products p WHERE p.id = $1",
        [product.id],
      );
      expect(rows[0]).toEqual({ stock: STOCK - sold, stored: sold });
    }
    const { rows } = await client.query<{ orders: number; keys: number }>(
      "SELECT (SELECT count(*)::int FROM orders) AS orders, (SELECT count(*)::int FROM idempotency_keys) AS keys",
    );
    expect(rows[0]).toEqual({ orders: ORDERS, keys: ORDERS });
  }, 120_000);
});
