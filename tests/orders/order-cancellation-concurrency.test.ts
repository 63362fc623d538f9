// Orders and cancels racing on a few hot products, over real TCP, from many distinct users:
// every cancel restocks exactly once, and at the end each product's stock is exactly
// initial − sold + returned. On both databases (PostgreSQL is the real proof of the row locks).
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SPEC_LIMITS } from "../../src/infra/spec-limits.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { assertMatchesSpec } from "../helpers/contract.js";
import { send, type Call, type HttpAnswer } from "../helpers/http-client.js";

const USERS = 16;
const ROUNDS = 6;
const HOT_STOCK = 60;

let t: TestApp;
let baseUrl: string;
let admin: string;
const users: { access: string }[] = [];
beforeAll(async () => {
  t = await startTestApp({ DB_POOL_MAX: 10 });
  await t.app.listen({ host: "127.0.0.1", port: 0 });
  baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  admin = await t.adminToken();
  for (let i = 0; i < USERS; i++) users.push(await t.createUser());
}, 120_000);
afterAll(() => t.close());

/** A request over TCP whose answer must match the spec. */
async function call(request: Call): Promise<HttpAnswer> {
  const answer = await send(baseUrl, request, { timeoutMs: 30_000 });
  assertMatchesSpec(request.method, request.path, answer);
  return answer;
}
const cancel = (token: string, id: number) => call({ method: "POST", path: `/api/order/${id}/cancel`, token });

// A small deterministic generator, so a failure can be replayed.
function random(seed: number) {
  return (below: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((seed / 2 ** 31) * below);
  };
}

interface Ledger {
  sold: Map<number, number>;
  returned: Map<number, number>;
  cancelled: Set<number>;
}
const add = (map: Map<number, number>, id: number, n: number) => map.set(id, (map.get(id) ?? 0) + n);

describe("orders and cancels racing on hot products over TCP", () => {
  it("restock each cancelled order exactly once: stock = initial − sold + returned", async () => {
    const hot: number[] = [];
    for (const name of ["Race Tea", "Race Coffee", "Race Cocoa"]) {
      const created = await call({ method: "POST", path: "/api/product/", token: admin, body: { name, price: "1.5", stock: HOT_STOCK } });
      expect(created.statusCode).toBe(201);
      hot.push(created.json().id);
    }
    const ledger: Ledger = { sold: new Map(), returned: new Map(), cancelled: new Set() };
    const placedOrders: { id: number; owner: string; lines: { id: number; quantity: number }[] }[] = [];
    const unexpected: string[] = [];

    // Each cancel of one order by several requests at once: exactly one 200, the others 409.
    async function cancelRacing(order: (typeof placedOrders)[number], tokens: string[]) {
      const answers = await Promise.all(tokens.map((token) => cancel(token, order.id)));
      const ok = answers.filter((a) => a.statusCode === 200);
      const refused = answers.filter((a) => a.statusCode === 409);
      if (ok.length !== 1 || refused.length !== tokens.length - 1) {
        unexpected.push(`order ${order.id}: cancels answered ${answers.map((a) => a.statusCode).join(",")}`);
        return;
      }
      for (const answer of refused) expect(answer.json().code).toBe("order-already-cancelled");
      expect(ok[0]!.json()).toMatchObject({ id: order.id, status: "cancelled" });
      ledger.cancelled.add(order.id);
      for (const line of order.lines) add(ledger.returned, line.id, line.quantity);
    }

    await Promise.all(
      users.map(async (user, u) => {
        const next = random(1000 + u);
        for (let round = 0; round < ROUNDS; round++) {
          const first = next(hot.length);
          const ids = next(2) ? [hot[first]!, hot[(first + 1) % hot.length]!] : [hot[first]!];
          const lines = ids.map((id) => ({ id, quantity: 1 + next(3) }));
          const placed = await call({ method: "POST", path: "/api/order/", token: user.access, body: { products: lines } });
          if (placed.statusCode === 400 && placed.json().code === "insufficient-stock") continue;
          if (placed.statusCode !== 201) {
            unexpected.push(`order: ${placed.statusCode} ${placed.body}`);
            continue;
          }
          const order = { id: placed.json().id as number, owner: user.access, lines };
          placedOrders.push(order);
          for (const line of lines) add(ledger.sold, line.id, line.quantity);
          const choice = next(4);
          if (choice === 0) await cancelRacing(order, [user.access]);
          else if (choice === 1) await cancelRacing(order, [user.access, user.access, admin]);
        }
      }),
    );
    // Later cancels of orders still open, each by its owner and an admin at once, while others order.
    const open = placedOrders.filter((o) => !ledger.cancelled.has(o.id));
    await Promise.all([
      ...open.filter((_, i) => i % 2 === 0).map((order) => cancelRacing(order, [order.owner, admin, order.owner])),
      ...users.slice(0, 4).map((user) =>
        call({ method: "POST", path: "/api/order/", token: user.access, body: { products: [{ id: hot[0]!, quantity: 1 }] } }).then((placed) => {
          if (placed.statusCode === 201) add(ledger.sold, hot[0]!, 1);
          else if (placed.json().code !== "insufficient-stock") unexpected.push(`order: ${placed.statusCode} ${placed.body}`);
        }),
      ),
    ]);

    expect(unexpected).toEqual([]);
    expect(ledger.cancelled.size).toBeGreaterThan(5);
    expect(ledger.cancelled.size).toBeLessThan(placedOrders.length);
    for (const id of hot) {
      const stock = (await t.database.prisma.product.findUniqueOrThrow({ where: { id } })).stock;
      expect(stock, `product ${id}`).toBe(HOT_STOCK - (ledger.sold.get(id) ?? 0) + (ledger.returned.get(id) ?? 0));
      // And the database agrees with itself: what is out of stock is what open orders hold.
      const held = await t.database.pool.query<{ n: number }>(
        "SELECT coalesce(sum(i.quantity), 0)::int AS n FROM order_items i JOIN orders o ON o.id = i.order_id WHERE i.product_id = $1 AND o.status = 'created'",
        [id],
      );
      expect(stock + held.rows[0]!.n, `product ${id}`).toBe(HOT_STOCK);
    }
    const cancelledRows = await t.database.pool.query<{ id: number }>(
      "SELECT id FROM orders WHERE status = 'cancelled' AND cancelled_at IS NOT NULL ORDER BY id",
    );
    expect(cancelledRows.rows.map((r) => r.id)).toEqual([...ledger.cancelled].sort((a, b) => a - b));
  }, 120_000);

  it("admins filling a product to the maximum race with cancels: exactly the room is used, the rest is a 409, never a 500", async () => {
    const MAX = SPEC_LIMITS.maxStock;
    const BUYERS = 8;
    const EACH = 5;
    const created = await call({ method: "POST", path: "/api/product/", token: admin, body: { name: "Brim Race Tea", price: "1.5", stock: MAX } });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as number;
    const orders: { id: number; owner: string }[] = [];
    for (const user of users.slice(0, BUYERS)) {
      const placed = await call({ method: "POST", path: "/api/order/", token: user.access, body: { products: [{ id, quantity: EACH }] } });
      expect(placed.statusCode, placed.body).toBe(201);
      orders.push({ id: placed.json().id, owner: user.access });
    }
    // Room for BUYERS × EACH units; twice as many requests want EACH each: every owner cancels
    // while an admin adds EACH units, all at once, sent interleaved (restock, cancel, restock, …)
    // so that cancels arrive both before and after the room is gone.
    const restock = () => call({ method: "PATCH", path: `/api/product/${id}`, token: admin, body: { stock_delta: EACH } });
    const pairs = await Promise.all(orders.map((order) => [restock(), cancel(order.owner, order.id)] as const).map((pair) => Promise.all(pair)));
    const restocks = pairs.map(([answer]) => answer);
    const cancels = pairs.map(([, answer]) => answer);
    const statuses = [...cancels, ...restocks].map((a) => a.statusCode);
    expect(
      statuses.filter((s) => s !== 200 && s !== 409),
      statuses.join(","),
    ).toEqual([]);
    for (const refused of [...cancels, ...restocks].filter((a) => a.statusCode === 409)) expect(refused.json().code).toBe("stock-out-of-range");
    expect(statuses.filter((s) => s === 200)).toHaveLength(BUYERS);
    for (const answer of restocks.filter((a) => a.statusCode === 200)) expect(answer.json().stock).toBeLessThanOrEqual(MAX);

    const stock = (await t.database.prisma.product.findUniqueOrThrow({ where: { id } })).stock;
    expect(stock).toBe(MAX);
    const cancelledIds = orders.filter((_, i) => cancels[i]!.statusCode === 200).map((o) => o.id);
    const rows = await t.database.pool.query<{ id: number; status: string }>("SELECT id, status FROM orders WHERE id = ANY($1::int[]) ORDER BY id", [
      orders.map((o) => o.id),
    ]);
    expect(rows.rows.filter((r) => r.status === "cancelled").map((r) => r.id)).toEqual(cancelledIds.sort((a, b) => a - b));
    expect(rows.rows.filter((r) => r.status === "created")).toHaveLength(BUYERS - cancelledIds.length);
  }, 120_000);
});
