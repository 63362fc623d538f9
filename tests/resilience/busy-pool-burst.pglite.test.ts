// Issue 27, finding 8, on the embedded database as `make run` starts it (its own process, no
// DATABASE_URL): the burst of busy-pool-burst.postgres.test.ts (300 distinct users at once over
// TCP, each order with its own Idempotency-Key) answers every order 201, the stock ledger exact.
// The data directory is made and seeded first, then served by the service, then read again.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { startEmbeddedPostgres } from "../../src/infra/db/embedded.js";
import { applyMigrations } from "../../src/infra/db/migrations.js";
import { burstJwtSecret, expectExactLedger, placeOrderBurst, seedBurst, type Seeded } from "../helpers/order-burst.js";
import { startServerProcess } from "../helpers/server-process.js";

const PLAN = { orders: 300, products: 5, stock: 1_000 };
const JWT_SECRET = burstJwtSecret();

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "order-service-burst-"));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

/** Runs `use` on the embedded database in DATA_DIR, opened by this process alone. */
async function onDataDir<T>(use: (url: string) => Promise<T>): Promise<T> {
  const embedded = await startEmbeddedPostgres({ dataDir: join(dataDir, "pglite") });
  try {
    return await use(embedded.url);
  } finally {
    await embedded.close();
  }
}

describe("finding 8: a busy pool does not blame the database (embedded database)", () => {
  it(`serves a burst of ${PLAN.orders} concurrent orders from distinct users with no 5xx, the stock ledger exact`, async () => {
    const seeded: Seeded = await onDataDir(async (url) => {
      await applyMigrations(url);
      return seedBurst(url, PLAN);
    });
    const server = await startServerProcess({ LOG_LEVEL: "warn", DATABASE_URL: "", DATA_DIR: dataDir, JWT_SECRET });
    onTestFinished(() => void server.child.kill("SIGKILL"));
    const orders = await placeOrderBurst(server.baseUrl, seeded, JWT_SECRET, server.output);
    expect(await server.stop("SIGTERM")).toMatchObject({ code: 0 });
    await onDataDir((url) => expectExactLedger(url, PLAN, seeded, orders));
  }, 240_000);
});
