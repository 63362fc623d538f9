// The statements that place, cancel and fulfil orders and claim an Idempotency-Key
// (src/orders/statements.ts, run through Prisma inside its transactions) are prepared once per
// connection and reused (DB_PREPARED_STATEMENTS, on by default); with the setting off nothing of
// theirs is prepared.
// One pooled connection, so the statements seen are the ones the orders ran on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";

const ORDER_STATEMENTS = ["order_take_stock", "order_write", "order_cancel", "order_fulfil", "order_key_expired", "order_key_claim"];

/** Executions of each order statement prepared on the database, by name. */
async function preparedOrderStatements(t: TestApp): Promise<Record<string, number>> {
  // On the embedded database every connection's statements are in the one session, under that
  // connection's prefix; on PostgreSQL, this connection's alone.
  const { rows } = await t.database.pool.query<{ name: string; executions: number }>(
    "SELECT name, (generic_plans + custom_plans)::int AS executions FROM pg_prepared_statements WHERE name LIKE '%order\\_%'",
  );
  const executions: Record<string, number> = {};
  for (const { name, executions: count } of rows) {
    const statement = ORDER_STATEMENTS.find((known) => name.endsWith(known));
    if (statement) executions[statement] = (executions[statement] ?? 0) + count;
  }
  return executions;
}

/**
 * Three orders of one product (one cancelled, one fulfilled) and one with an Idempotency-Key, sent
 * twice (the second answered from the key). Checks every answer and the stock.
 */
async function placeCancelFulfil(t: TestApp, name: string): Promise<void> {
  const admin = await t.adminToken();
  const buyer = await t.createUser();
  const product = await createProduct(viaApp(t), admin, { name, price: "1.5", stock: 10 });
  const placed = [];
  for (const quantity of [1, 2, 3]) {
    const answer = await t.request({ method: "POST", url: "/api/order/", token: buyer.access, payload: { products: [{ id: product.id, quantity }] } });
    expect(answer.statusCode, answer.body).toBe(201);
    expect(answer.json()).toMatchObject({ status: "created", items: [{ product_id: product.id, quantity }] });
    placed.push(answer.json() as { id: number });
  }
  const cancelled = await t.request({ method: "POST", url: `/api/order/${placed[0]!.id}/cancel`, token: buyer.access });
  expect(cancelled.statusCode, cancelled.body).toBe(200);
  expect(cancelled.json()).toMatchObject({ id: placed[0]!.id, status: "cancelled" });
  const fulfilled = await t.request({ method: "POST", url: `/api/order/${placed[1]!.id}/fulfil`, token: admin });
  expect(fulfilled.statusCode, fulfilled.body).toBe(200);
  expect(fulfilled.json()).toMatchObject({ id: placed[1]!.id, status: "fulfilled" });
  const keyed = {
    method: "POST" as const,
    url: "/api/order/",
    token: buyer.access,
    headers: { "idempotency-key": `prepared-${name}` },
    payload: { products: [{ id: product.id, quantity: 4 }] },
  };
  const first = await t.request(keyed);
  expect(first.statusCode, first.body).toBe(201);
  const replay = await t.request(keyed);
  expect(replay.statusCode, replay.body).toBe(201);
  expect(replay.json()).toEqual(first.json());
  expect((await t.database.prisma.product.findUniqueOrThrow({ where: { id: product.id } })).stock).toBe(1);
}

describe.each([
  {
    setting: "DB_PREPARED_STATEMENTS on (the default)",
    env: {},
    prepared: { order_take_stock: 8, order_write: 8, order_cancel: 2, order_fulfil: 2, order_key_expired: 4, order_key_claim: 4 },
  },
  { setting: "DB_PREPARED_STATEMENTS=false", env: { DB_PREPARED_STATEMENTS: false }, prepared: {} },
])("with $setting", ({ env, prepared }) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ DB_POOL_MAX: 1, ...env });
  }, 60_000);
  afterAll(() => t?.close());

  it("answers every order alike, its statements prepared once per connection only when on", async () => {
    await placeCancelFulfil(t, "Oolong");
    await placeCancelFulfil(t, "Sencha");
    expect(await preparedOrderStatements(t)).toEqual(prepared);
  });
});
