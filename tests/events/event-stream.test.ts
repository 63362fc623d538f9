// The transactional outbox and GET /api/event/: every committed change of an order or a product
// has its event (data = the resource as the API answered it), a refused change has none, and the
// stream pages in a fixed order. Commit order under concurrent writers: event-order.postgres.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setTimeout as sleep } from "node:timers/promises";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";

let t: TestApp;
let admin: string;
let alice: { id: string; access: string };
beforeAll(async () => {
  t = await startTestApp({}, { jobIntervalMs: 100 });
  admin = await t.adminToken();
  alice = await t.createUser();
});
afterAll(() => t.close());

interface Page {
  cursor: string | null;
  next: string;
  has_more: boolean;
  results: { id: string; type: string; occurred_at: string; data: Record<string, unknown> }[];
}

async function page(query = "", token = admin): Promise<Page> {
  const answer = await t.request({ url: `/api/event/${query}`, token });
  expect(answer.statusCode, answer.body).toBe(200);
  return answer.json();
}

/** Every event after `after`, following `next` links `limit` at a time. */
async function readOnce(after: string | null, limit: number, types: string[]): Promise<{ events: Page["results"]; cursor: string | null }> {
  const params = new URLSearchParams();
  if (after) params.set("after", after);
  for (const type of types) params.append("type", type);
  params.set("limit", String(limit));
  let current = await page(`?${params}`);
  const events = [...current.results];
  while (current.has_more) {
    expect(current.results).toHaveLength(limit);
    current = await page(current.next.slice(current.next.indexOf("?")));
    events.push(...current.results);
  }
  return { events, cursor: current.cursor };
}

/**
 * readOnce, again until at least `expected` events are listed: an event is listed once every
 * transaction on the PostgreSQL server that began before it has ended (other databases' too, such
 * as the other test files'), usually within milliseconds.
 */
async function readAll(after: string | null, limit = 100, types: string[] = [], expected = 0): Promise<{ events: Page["results"]; cursor: string | null }> {
  let read = await readOnce(after, limit, types);
  for (let i = 0; i < 250 && read.events.length < expected; i++) {
    await sleep(20);
    read = await readOnce(after, limit, types);
  }
  return read;
}

/** The position after every event written so far. */
async function streamEnd(): Promise<string | null> {
  const total = await t.database.prisma.event.count({ where: { type: { not: "webhook.test" } } });
  return (await readAll(null, 1000, [], total)).cursor;
}

const send = (method: string, url: string, payload?: object, token = admin) =>
  t.request({ method: method as "POST", url, token, ...(payload ? { payload } : {}) });

describe("the event stream", () => {
  it("has one event per committed change, carrying the resource as the API answered it, and none for a refused order", async () => {
    const start = await streamEnd();
    const product = await createProduct(viaApp(t), admin, { name: "Event Tea", price: "2.5", stock: 5 });
    const renamed = (await send("PATCH", `/api/product/${product.id}`, { name: "Event Tea 2", price: "3" })).json();
    const restocked = (await send("PATCH", `/api/product/${product.id}`, { stock_delta: 4 })).json();
    const set = (await send("PUT", `/api/product/${product.id}`, { stock: 8 })).json();
    const placed = await send("POST", "/api/order/", { products: [{ id: product.id, quantity: 3 }] }, alice.access);
    expect(placed.statusCode, placed.body).toBe(201);
    const refused = await send("POST", "/api/order/", { products: [{ id: product.id, quantity: 6 }] }, alice.access);
    expect(refused.json()).toMatchObject({ status: 400, code: "insufficient-stock" });
    const unknown = await send("POST", "/api/order/", { products: [{ id: 2_000_000_000, quantity: 1 }] }, alice.access);
    expect(unknown.statusCode).toBe(400);
    const cancelled = await send("POST", `/api/order/${placed.json().id}/cancel`, undefined, alice.access);
    expect(cancelled.statusCode).toBe(200);
    // A second cancel changes nothing, so it has no event.
    expect((await send("POST", `/api/order/${placed.json().id}/cancel`, undefined, alice.access)).statusCode).toBe(409);
    // A conditional write that fails changes nothing either.
    expect((await t.request({ method: "DELETE", url: `/api/product/${product.id}`, token: admin, headers: { "if-match": '"1-1"' } })).statusCode).toBe(412);
    const beforeDelete = (await send("GET", `/api/product/${product.id}`)).json();
    expect((await send("DELETE", `/api/product/${product.id}`)).statusCode).toBe(204);

    const { events } = await readAll(start, 100, [], 7);
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ["product.created", product],
      ["product.updated", renamed],
      ["product.updated", restocked],
      ["product.updated", set],
      ["order.created", placed.json()],
      ["order.cancelled", cancelled.json()],
      ["product.deleted", beforeDelete],
    ]);
    for (const event of events) {
      expect(event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Math.abs(Date.parse(event.occurred_at) - Date.now())).toBeLessThan(60_000);
    }
    expect(events[4]!.occurred_at).toBe(placed.json().created_at);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    // Stock taken by orders is not a product.updated (only an admin's change is).
    expect(await t.database.prisma.event.count({ where: { resource: `order:${placed.json().id}` } })).toBe(2);
  });

  it("has an order.fulfilled event carrying the fulfilled order, and none for a refused fulfil or cancel", async () => {
    const start = await streamEnd();
    const product = await createProduct(viaApp(t), admin, { stock: 10 });
    const placed = (await send("POST", "/api/order/", { products: [{ id: product.id, quantity: 2 }] }, alice.access)).json();
    const fulfilled = await send("POST", `/api/order/${placed.id}/fulfil`);
    expect(fulfilled.statusCode, fulfilled.body).toBe(200);
    // Neither a second fulfil nor a cancel of a fulfilled order changes anything, so neither has an event.
    expect((await send("POST", `/api/order/${placed.id}/fulfil`)).json()).toMatchObject({ status: 409, code: "order-already-fulfilled" });
    expect((await send("POST", `/api/order/${placed.id}/cancel`, undefined, alice.access)).json()).toMatchObject({
      status: 409,
      code: "order-already-fulfilled",
    });

    const { events } = await readAll(start, 100, [], 3);
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ["product.created", product],
      ["order.created", placed],
      ["order.fulfilled", fulfilled.json()],
    ]);
    expect(events[2]!.data).toMatchObject({ id: placed.id, status: "fulfilled", fulfilled_at: expect.any(String) });
  });

  it("pages in a fixed order by cursor, filters by type (repeatable) and resumes from any cursor", async () => {
    const start = await streamEnd();
    const products = [];
    for (let i = 0; i < 7; i++) products.push(await createProduct(viaApp(t), admin, { stock: 50 }));
    const orders = [];
    for (const p of products.slice(0, 3)) orders.push((await send("POST", "/api/order/", { products: [{ id: p.id, quantity: 1 }] }, alice.access)).json());

    const all = await readAll(start, 2, [], 10);
    expect(all.events.map((e) => e.type)).toEqual([...Array(7).fill("product.created"), ...Array(3).fill("order.created")]);
    expect(all.events.map((e) => e.data.id)).toEqual([...products.map((p) => p.id), ...orders.map((o) => o.id)]);
    const once = await readAll(start, 1000);
    expect(once.events).toEqual(all.events);
    expect(once.cursor).toBe(all.cursor);

    // The end of the stream: nothing more, and `next` is where new events will appear.
    const end = await page(`?after=${all.cursor}`);
    expect(end).toMatchObject({ results: [], has_more: false, cursor: all.cursor });
    const later = await createProduct(viaApp(t), admin);
    const polled = await readAll(end.cursor, 5, [], 1).then(async (read) => {
      expect(read.events).toHaveLength(1);
      return page(end.next.slice(end.next.indexOf("?")));
    });
    expect(polled.results.map((e) => e.data)).toEqual([later]);

    const onlyOrders = await readAll(start, 2, ["order.created"], 3);
    expect(onlyOrders.events).toEqual(all.events.filter((e) => e.type === "order.created"));
    const single = await page(`?type=order.created&after=${start}`);
    expect(single.results).toEqual(onlyOrders.events);
    expect(single.next).toContain("type=order.created");
    const both = await readAll(start, 3, ["order.created", "product.created"]);
    expect(both.events).toEqual([...all.events, polled.results[0]]);

    // Resuming from the cursor of the third event lists exactly what followed it.
    const third = await page(`?after=${start}&limit=3`);
    expect((await readAll(third.cursor, 4)).events).toEqual([...all.events.slice(3), polled.results[0]]);
  });

  it("orders events by their transaction id as a number, also where it gains a digit (9, 10, 99, 100)", async () => {
    // Written as transactions that old would have (every real one since is younger), so they open the stream.
    const product = await createProduct(viaApp(t), admin);
    const xids = [100, 9, 99, 10];
    for (const [index, xid] of xids.entries()) {
      await t.database.prisma.$executeRawUnsafe(
        "INSERT INTO events (id, xid, type, resource, data) VALUES (gen_random_uuid(), $1::bigint, 'product.updated', $2, $3::jsonb)",
        xid,
        `product:${product.id}`,
        JSON.stringify({ ...product, stock: index }),
      );
    }
    const inXidOrder = [9, 10, 99, 100].map((xid) => xids.indexOf(xid));
    expect((await page("?limit=4")).results.map((e) => e.data.stock)).toEqual(inXidOrder);
    // One at a time, each cursor leads to the next of them.
    const walked: unknown[] = [];
    let after = "";
    for (let i = 0; i < 4; i++) {
      const one = await page(`?limit=1${after}`);
      walked.push(one.results[0]?.data.stock);
      after = `&after=${one.cursor}`;
    }
    expect(walked).toEqual(inXidOrder);
  });

  it("refuses a cursor it did not write, a type it does not know, non-admins and anonymous callers", async () => {
    for (const after of [
      "bm90LWEtY3Vyc29y",
      Buffer.from("1.not-a-uuid").toString("base64url"),
      Buffer.from("99999999999999999999.019abcde-f012-7345-8678-9abcdef01234").toString("base64url"),
    ]) {
      const answer = await t.request({ url: `/api/event/?after=${after}`, token: admin });
      expect(answer.statusCode).toBe(400);
      expect(answer.json()).toMatchObject({ code: "validation-failed", errors: [{ path: "/query/after", code: "invalid-cursor" }] });
    }
    const badType = await t.request({ url: "/api/event/?type=order.shipped", token: admin });
    expect(badType.statusCode).toBe(400);
    expect(badType.json().code).toBe("validation-failed");
    const forbidden = await t.request({ url: "/api/event/", token: alice.access });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().code).toBe("forbidden");
    expect((await t.request({ url: "/api/event/" })).statusCode).toBe(401);
  });

  it("purges events older than the retention on the periodic job, with their webhook deliveries", async () => {
    // An endpoint nothing listens on: its deliveries stay in the log (pending) until purged.
    const hook = await t.request({
      method: "POST",
      url: "/api/webhook/",
      token: admin,
      payload: { url: "http://127.0.0.1:9/", event_types: ["product.created"] },
    });
    expect(hook.statusCode).toBe(201);
    const product = await createProduct(viaApp(t), admin);
    const recent = await createProduct(viaApp(t), admin);
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    const [old] = await t.database.prisma.event.findMany({ where: { resource: `product:${product.id}` } });
    // A delivery is created with its event: the same time.
    await t.database.prisma.$transaction([
      t.database.prisma.event.updateMany({ where: { id: old!.id }, data: { occurredAt: eightDaysAgo } }),
      t.database.prisma.webhookDelivery.updateMany({ where: { eventId: old!.id }, data: { createdAt: eightDaysAgo } }),
    ]);
    for (let i = 0; i < 100 && (await t.database.prisma.event.count({ where: { resource: `product:${product.id}` } })) > 0; i++) await sleep(50);
    expect(await t.database.prisma.event.count({ where: { resource: `product:${product.id}` } })).toBe(0);
    expect(await t.database.prisma.event.count({ where: { resource: `product:${recent.id}` } })).toBe(1);
    const deliveries = await t.database.prisma.webhookDelivery.findMany({ where: { endpointId: hook.json().id } });
    expect(deliveries.map((d) => d.eventId)).not.toContain(old!.id);
    expect(deliveries).toHaveLength(1);
    const log = (await t.request({ url: `/api/webhook/${hook.json().id}/deliveries`, token: admin })).json();
    expect(log.results.map((d: { event_type: string }) => d.event_type)).toEqual(["product.created"]);
    await t.request({ method: "DELETE", url: `/api/webhook/${hook.json().id}`, token: admin });
  });
});
