// Fulfilling an order (POST /api/order/{id}/fulfil): the state rules (created → fulfilled once;
// fulfilled orders cannot be cancelled, cancelled ones cannot be fulfilled), who may do it, and
// fulfils racing cancels of the same orders over real TCP: exactly one wins each order, and stock
// goes back only for orders whose cancel won.
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { assertMatchesSpec } from "../helpers/contract.js";
import { createProduct, viaApp } from "../helpers/factories.js";
import { send, type Call, type HttpAnswer } from "../helpers/http-client.js";

type Json = Record<string, any>;

let t: TestApp;
let admin: string;
let alice: { id: string; access: string };
beforeAll(async () => {
  t = await startTestApp({ DB_POOL_MAX: 10 });
  admin = await t.adminToken();
  alice = await t.createUser();
}, 120_000);
afterAll(() => t.close());

const product = async (name: string, stock: number) => (await createProduct(viaApp(t), admin, { name, price: "2.5", stock })).id;
async function order(token: string, products: { id: number; quantity: number }[]): Promise<Json> {
  const response = await t.request({ method: "POST", url: "/api/order/", token, payload: { products } });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}
const fulfil = (token: string | undefined, id: number | string) => t.request({ method: "POST", url: `/api/order/${id}/fulfil`, ...(token ? { token } : {}) });
const cancel = (token: string, id: number) => t.request({ method: "POST", url: `/api/order/${id}/cancel`, token });
const read = async (id: number) => (await t.request({ url: `/api/order/${id}`, token: admin })).json();
const stockOf = async (id: number) => (await t.database.prisma.product.findUniqueOrThrow({ where: { id } })).stock;

function expectProblem(answer: { statusCode: number; headers: Record<string, unknown>; json(): Json }, status: number, code: string, instance: string) {
  expect(answer.statusCode).toBe(status);
  expect(answer.headers["content-type"]).toMatch(/^application\/problem\+json/);
  expect(answer.json()).toMatchObject({ type: `urn:order-service:problem:${code}`, status, code, instance });
}

describe("fulfilling an order", () => {
  it("moves a created order to fulfilled with fulfilled_at, once, without touching stock", async () => {
    const tea = await product("Fulfil Tea", 20);
    const placed = await order(alice.access, [{ id: tea, quantity: 7 }]);
    expect(placed).toMatchObject({ status: "created", cancelled_at: null, fulfilled_at: null });
    expect(await stockOf(tea)).toBe(13);

    const before = Date.now();
    const answer = await fulfil(admin, placed.id);
    expect(answer.statusCode, answer.body).toBe(200);
    const fulfilled = answer.json();
    expect(fulfilled).toEqual({ ...placed, status: "fulfilled", fulfilled_at: expect.any(String) });
    expect(Date.parse(fulfilled.fulfilled_at)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(fulfilled.fulfilled_at)).toBeLessThanOrEqual(Date.now() + 1000);
    expect(await stockOf(tea)).toBe(13);
    expect(await read(placed.id)).toEqual(fulfilled);
    expect((await t.request({ url: `/api/order/${placed.id}`, token: alice.access })).json()).toEqual(fulfilled);
    const own = (await t.request({ url: "/api/order/", token: alice.access })).json();
    expect(own.results.find((o: Json) => o.id === placed.id)).toEqual(fulfilled);

    // Twice: a 409 of its own, naming when, and nothing changes.
    const again = await fulfil(admin, placed.id);
    expectProblem(again, 409, "order-already-fulfilled", `/api/order/${placed.id}/fulfil`);
    expect(again.json().title).toBe("Order already fulfilled");
    expect(again.json().detail).toBe(`Order ${placed.id} was already fulfilled at ${fulfilled.fulfilled_at}; nothing changed.`);
    expect(await read(placed.id)).toEqual(fulfilled);
  });

  it("refuses to cancel a fulfilled order (409 order-already-fulfilled) and keeps the stock where it is", async () => {
    const cake = await product("Fulfil Cake", 10);
    const placed = await order(alice.access, [{ id: cake, quantity: 4 }]);
    const fulfilled = (await fulfil(admin, placed.id)).json();
    for (const token of [alice.access, admin]) {
      const refused = await cancel(token, placed.id);
      expectProblem(refused, 409, "order-already-fulfilled", `/api/order/${placed.id}/cancel`);
      expect(refused.json().detail).toBe(`Order ${placed.id} was fulfilled at ${fulfilled.fulfilled_at} and cannot be cancelled; nothing changed.`);
    }
    expect(await stockOf(cake)).toBe(6);
    expect(await read(placed.id)).toEqual(fulfilled);
  });

  it("refuses to fulfil a cancelled order (409 order-already-cancelled)", async () => {
    const jam = await product("Fulfil Jam", 10);
    const placed = await order(alice.access, [{ id: jam, quantity: 3 }]);
    const cancelled = (await cancel(alice.access, placed.id)).json();
    expect(cancelled.status).toBe("cancelled");
    const refused = await fulfil(admin, placed.id);
    expectProblem(refused, 409, "order-already-cancelled", `/api/order/${placed.id}/fulfil`);
    expect(refused.json().detail).toBe(`Order ${placed.id} was cancelled at ${cancelled.cancelled_at} and cannot be fulfilled; nothing changed.`);
    expect(await stockOf(jam)).toBe(10);
    expect(await read(placed.id)).toEqual({ ...cancelled, fulfilled_at: null });
  });

  it("is for admins only: 401 without a token, 403 for customers (their own orders too), 404 for an unknown order", async () => {
    const bun = await product("Fulfil Bun", 10);
    const placed = await order(alice.access, [{ id: bun, quantity: 1 }]);
    expectProblem(await fulfil(undefined, placed.id), 401, "unauthorized", `/api/order/${placed.id}/fulfil`);
    const forbidden = await fulfil(alice.access, placed.id);
    expectProblem(forbidden, 403, "forbidden", `/api/order/${placed.id}/fulfil`);
    expect(forbidden.json().detail).toBe("You do not have permission to perform this action.");
    expect(await read(placed.id)).toEqual(placed);

    const missing = await fulfil(admin, 2_000_000_000);
    expectProblem(missing, 404, "not-found", "/api/order/2000000000/fulfil");
    expect(missing.json().detail).toBe("Order 2000000000 does not exist.");
    for (const id of ["0", "abc", "2147483648", "1.5"]) {
      const bad = await fulfil(admin, id);
      expectProblem(bad, 400, "validation-failed", `/api/order/${id}/fulfil`);
      expect(bad.json().errors.map((e: Json) => e.path)).toEqual(["/params/id"]);
    }
    expect(await read(placed.id)).toEqual(placed);
  });

  it("takes a bodiless POST, and a body exactly as cancel does", async () => {
    const pie = await product("Fulfil Pie", 10);
    const first = await order(alice.access, [{ id: pie, quantity: 1 }]);
    const second = await order(alice.access, [{ id: pie, quantity: 1 }]);
    const third = await order(alice.access, [{ id: pie, quantity: 1 }]);
    const bodiless = await t.app.inject({ method: "POST", url: `/api/order/${first.id}/fulfil`, headers: { authorization: `Bearer ${admin}` } });
    assertMatchesSpec("POST", `/api/order/${first.id}/fulfil`, bodiless);
    expect(bodiless.statusCode, bodiless.body).toBe(200);
    expect(bodiless.json().status).toBe("fulfilled");
    // A JSON body is ignored by both, as cancel always did.
    const withBody = (path: string) => t.request({ method: "POST", url: path, token: admin, payload: { note: "x" } });
    const fulfilAnswer = await withBody(`/api/order/${second.id}/fulfil`);
    const cancelAnswer = await withBody(`/api/order/${third.id}/cancel`);
    expect([fulfilAnswer.statusCode, cancelAnswer.statusCode]).toEqual([200, 200]);
    expect(fulfilAnswer.json()).toEqual({ ...second, status: "fulfilled", fulfilled_at: expect.any(String) });
  });
});

describe("fulfilled_at in answers kept before it existed", () => {
  it("is null in an Idempotency-Key replay of an answer kept without it; a replay still answers the order as first placed", async () => {
    const tart = await product("Replay Tart", 10);
    const headers = { "idempotency-key": "before-fulfilled-at" };
    const first = await t.request({ method: "POST", url: "/api/order/", token: alice.access, payload: { products: [{ id: tart, quantity: 1 }] }, headers });
    expect(first.statusCode).toBe(201);
    const placed = first.json();
    // As a version without fulfilled_at kept it.
    const { fulfilled_at: _, ...oldShape } = placed;
    await t.database.pool.query("UPDATE idempotency_keys SET body = $2::jsonb WHERE key = $1", [headers["idempotency-key"], JSON.stringify(oldShape)]);
    expect((await fulfil(admin, placed.id)).statusCode).toBe(200);
    const replay = await t.request({ method: "POST", url: "/api/order/", token: alice.access, payload: { products: [{ id: tart, quantity: 1 }] }, headers });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(replay.json()).toEqual(placed);
    expect(await stockOf(tart)).toBe(9);
  });
});

describe("fulfils racing cancels of the same orders over TCP", () => {
  const USERS = 12;
  const ORDERS_EACH = 4;
  const STOCK = 1000;
  let baseUrl: string;
  const users: { access: string }[] = [];
  beforeAll(async () => {
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    for (let i = 0; i < USERS; i++) users.push(await t.createUser());
  }, 120_000);

  async function call(request: Call): Promise<HttpAnswer> {
    const answer = await send(baseUrl, request, { timeoutMs: 30_000 });
    assertMatchesSpec(request.method, request.path, answer);
    return answer;
  }

  it("lets exactly one of them win each order; stock goes back exactly for the orders whose cancel won", async () => {
    const hot = [await product("Race Fulfil Tea", STOCK), await product("Race Fulfil Cake", STOCK)];
    const orders: { id: number; owner: string; lines: { id: number; quantity: number }[] }[] = [];
    await Promise.all(
      users.map(async (user, u) => {
        for (let k = 0; k < ORDERS_EACH; k++) {
          const lines = (u + k) % 2 ? [{ id: hot[0]!, quantity: 1 + k }] : hot.map((id, i) => ({ id, quantity: 1 + ((u + i) % 3) }));
          const placed = await call({ method: "POST", path: "/api/order/", token: user.access, body: { products: lines } });
          expect(placed.statusCode, placed.body).toBe(201);
          orders.push({ id: placed.json().id, owner: user.access, lines });
        }
      }),
    );

    // Every order at once: two fulfils by the admin, a cancel by its owner and one by the admin,
    // sent in an order that changes from order to order.
    const results = await Promise.all(
      orders.map(async (o, i) => {
        const requests = [
          { kind: "fulfil", token: admin },
          { kind: "cancel", token: o.owner },
          { kind: "fulfil", token: admin },
          { kind: "cancel", token: admin },
        ];
        const rotated = [...requests.slice(i % 4), ...requests.slice(0, i % 4)];
        const answers = await Promise.all(rotated.map((r) => call({ method: "POST", path: `/api/order/${o.id}/${r.kind}`, token: r.token })));
        return { order: o, answers: answers.map((answer, j) => ({ kind: rotated[j]!.kind, answer })) };
      }),
    );

    const returned = new Map<number, number>();
    const winners = { fulfil: 0, cancel: 0 };
    for (const { order: o, answers } of results) {
      const won = answers.filter((a) => a.answer.statusCode === 200);
      expect(won.length, `order ${o.id}: ${answers.map((a) => `${a.kind} ${a.answer.statusCode}`).join(", ")}`).toBe(1);
      const winner = won[0]!;
      winners[winner.kind as "fulfil" | "cancel"]++;
      const body = winner.answer.json();
      const finalCode = winner.kind === "fulfil" ? "order-already-fulfilled" : "order-already-cancelled";
      expect(body).toMatchObject({ id: o.id, status: winner.kind === "fulfil" ? "fulfilled" : "cancelled" });
      expect(winner.kind === "fulfil" ? [body.fulfilled_at, body.cancelled_at] : [body.cancelled_at, body.fulfilled_at]).toEqual([expect.any(String), null]);
      for (const { kind, answer } of answers.filter((a) => a !== winner)) {
        expect(answer.statusCode, `${kind} of order ${o.id}`).toBe(409);
        expect(answer.json().code).toBe(finalCode);
        expect(answer.json().instance).toBe(`/api/order/${o.id}/${kind}`);
      }
      expect(await read(o.id)).toEqual(body);
      if (winner.kind === "cancel") for (const line of o.lines) returned.set(line.id, (returned.get(line.id) ?? 0) + line.quantity);
    }
    expect(winners.fulfil + winners.cancel).toBe(orders.length);
    expect(winners.fulfil).toBeGreaterThan(0);
    expect(winners.cancel).toBeGreaterThan(0);

    for (const id of hot) {
      const sold = orders
        .flatMap((o) => o.lines)
        .filter((l) => l.id === id)
        .reduce((sum, l) => sum + l.quantity, 0);
      expect(await stockOf(id), `product ${id}`).toBe(STOCK - sold + (returned.get(id) ?? 0));
      // The database agrees with itself: what is out of stock is what created or fulfilled orders hold.
      const held = await t.database.pool.query<{ n: number }>(
        "SELECT coalesce(sum(i.quantity), 0)::int AS n FROM order_items i JOIN orders o ON o.id = i.order_id WHERE i.product_id = $1 AND o.status <> 'cancelled'",
        [id],
      );
      expect(await stockOf(id)).toBe(STOCK - held.rows[0]!.n);
    }
    const states = await t.database.pool.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM orders WHERE id = ANY($1::int[])
       AND (status = 'fulfilled' AND fulfilled_at IS NOT NULL AND cancelled_at IS NULL OR status = 'cancelled' AND cancelled_at IS NOT NULL AND fulfilled_at IS NULL)
       GROUP BY status ORDER BY status`,
      [orders.map((o) => o.id)],
    );
    expect(states.rows).toEqual(
      [
        { status: "cancelled", n: winners.cancel },
        { status: "fulfilled", n: winners.fulfil },
      ].filter((r) => r.n > 0),
    );
  }, 120_000);
});
