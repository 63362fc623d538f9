// Issue 27, finding 8, "a busy pool blames the database": 200 concurrent orders on a healthy
// PostgreSQL waited more than 3 s for one of the pool's 10 connections and were answered 503
// "The database is unavailable". A burst of 300 orders from 300 distinct users, over real TCP,
// each with its own Idempotency-Key, on the service as it runs (its own process, the default
// pool and wait), must be served: every answer a 201 with the lines ordered, the stock ledger exact.
// busy-pool-burst.pglite.test.ts runs the same burst on the embedded database.
import { afterAll, beforeAll, describe, it, onTestFinished } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { burstJwtSecret, expectExactLedger, placeOrderBurst, seedBurst } from "../helpers/order-burst.js";
import { startServerProcess } from "../helpers/server-process.js";

const PLAN = { orders: 300, products: 5, stock: 1_000 };
const JWT_SECRET = burstJwtSecret();

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.close());

describe("finding 8: a busy pool does not blame the database", () => {
  it(`serves a burst of ${PLAN.orders} concurrent orders from distinct users with no 5xx, the stock ledger exact`, async () => {
    const seeded = await seedBurst(db.url, PLAN);
    const server = await startServerProcess({ LOG_LEVEL: "warn", DATABASE_URL: db.url, JWT_SECRET, ...db.env });
    onTestFinished(() => void server.child.kill("SIGKILL"));
    const orders = await placeOrderBurst(server.baseUrl, seeded, JWT_SECRET, server.output);
    await expectExactLedger(db.url, PLAN, seeded, orders);
  }, 120_000);
});
