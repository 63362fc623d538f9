// Webhooks pushed to a real receiver over TCP (tests/helpers/webhook-receiver.ts verifies every
// signature with the standardwebhooks package): management, retries on the schedule, timeouts,
// 410, 429 with Retry-After, an endpoint that goes away and comes back, per-resource order,
// secret rotation, test events and replays, and endpoints removed while orders are placed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { recordEvent } from "../../src/events/index.js";
import { createProduct, viaApp } from "../helpers/factories.js";
import { type Receiver, startReceiver } from "../helpers/webhook-receiver.js";

const SCHEDULE = [150, 300, 600, 1200, 2400];
const TIMEOUT_MS = 500;

let t: TestApp;
let admin: string;
let alice: { id: string; access: string };
let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
  t = await startTestApp({
    WEBHOOK_RETRY_SCHEDULE_MS: SCHEDULE.join(","),
    WEBHOOK_TIMEOUT_MS: TIMEOUT_MS,
    WEBHOOK_POLL_MS: 20,
    WEBHOOK_DISABLE_AFTER_MS: 60_000,
    WEBHOOK_SECRET_OVERLAP_MS: 60_000,
  });
  admin = await t.adminToken();
  alice = await t.createUser();
});
afterAll(async () => {
  await t.close();
  await receiver.close();
});

let pathSequence = 0;
/** A new endpoint on its own receiver path, trusted with its secret. */
async function endpoint(eventTypes: string[], path = `/hook-${++pathSequence}`) {
  const answer = await t.request({ method: "POST", url: "/api/webhook/", token: admin, payload: { url: receiver.url(path), event_types: eventTypes } });
  expect(answer.statusCode, answer.body).toBe(201);
  const created = answer.json();
  receiver.trust(path, created.secret);
  return { ...created, path };
}
const forPath = (path: string) => receiver.received.filter((r) => r.path === path);
async function order(productId: number, quantity = 1) {
  const answer = await t.request({ method: "POST", url: "/api/order/", token: alice.access, payload: { products: [{ id: productId, quantity }] } });
  expect(answer.statusCode, answer.body).toBe(201);
  return answer.json();
}
async function deliveries(id: string, query = "") {
  const answer = await t.request({ url: `/api/webhook/${id}/deliveries${query}`, token: admin });
  expect(answer.statusCode, answer.body).toBe(200);
  return answer.json();
}
async function waitForDelivery(id: string, status: string, count = 1) {
  for (let i = 0; i < 300; i++) {
    const page = await deliveries(id, `?status=${status}&limit=100`);
    // The rows, not the count: the log reads them apart, so a delivery recorded in between is in one only.
    if (page.results.length >= count) return page.results;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no ${count} ${status} deliveries: ${JSON.stringify((await deliveries(id)).results)}`);
}
async function metric(name: string): Promise<number> {
  const text = (await t.request({ url: "/metrics" })).body;
  return Number(new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
}
/** How often a dispatcher has asked the database whether transactions that handed it deliveries committed. */
const commitQuestions = async () => (await metric('db_query_duration_seconds_count{model="WebhookDelivery",operation="transactionStatuses"}')) || 0;

describe("managing webhook endpoints", () => {
  it("creates (answering the secret once), lists, reads, changes and deletes; admins only", async () => {
    const created = await endpoint(["order.created"]);
    expect(created).toMatchObject({ url: receiver.url(created.path), event_types: ["order.created"], enabled: true, disabled_reason: null });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/);
    const read = await t.request({ url: `/api/webhook/${created.id}`, token: admin });
    const { secret: _secret, path: _path, ...body } = created;
    expect(read.json()).toEqual(body);
    expect(read.body).not.toContain(created.secret);
    const list = (await t.request({ url: "/api/webhook/?limit=100", token: admin })).json();
    expect(list.results).toContainEqual(body);
    expect(list.count).toBe(list.results.length);

    const changed = await t.request({
      method: "PATCH",
      url: `/api/webhook/${created.id}`,
      token: admin,
      payload: { event_types: ["order.created", "order.cancelled"], enabled: false },
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toMatchObject({ event_types: ["order.created", "order.cancelled"], enabled: false, disabled_reason: null });
    expect((await t.request({ method: "DELETE", url: `/api/webhook/${created.id}`, token: admin })).statusCode).toBe(204);
    for (const [method, url] of [
      ["GET", `/api/webhook/${created.id}`],
      ["DELETE", `/api/webhook/${created.id}`],
      ["POST", `/api/webhook/${created.id}/rotate-secret`],
      ["POST", `/api/webhook/${created.id}/test`],
      ["GET", `/api/webhook/${created.id}/deliveries`],
      ["POST", `/api/webhook/${created.id}/deliveries/5f0c7d2e-4d3b-4f7a-a1c2-9e8b7a6d5c4f/retry`],
    ] as const) {
      const answer = await t.request({ method, url, token: admin });
      expect(answer.statusCode, `${method} ${url}`).toBe(404);
      expect(answer.json().code).toBe("not-found");
    }
    const patchMissing = await t.request({ method: "PATCH", url: `/api/webhook/${created.id}`, token: admin, payload: { enabled: true } });
    expect(patchMissing.statusCode).toBe(404);
  });

  it("refuses bad input with 400, non-admins with 403, anonymous callers with 401", async () => {
    const bad = [
      { url: "not a url", event_types: ["order.created"] },
      { url: "ftp://example.com/", event_types: ["order.created"] },
      { url: "https://example.com/", event_types: [] },
      { url: "https://example.com/", event_types: ["order.shipped"] },
      { url: "https://user:pw@example.com/", event_types: ["order.created"] },
    ];
    for (const payload of bad) {
      const answer = await t.request({ method: "POST", url: "/api/webhook/", token: admin, payload });
      expect(answer.statusCode, JSON.stringify(payload)).toBe(400);
    }
    const someone = await endpoint(["order.created"]);
    const badPatch = await t.request({ method: "PATCH", url: `/api/webhook/${someone.id}`, token: admin, payload: { url: "nope" } });
    expect(badPatch.statusCode).toBe(400);
    expect(badPatch.json().errors[0]).toMatchObject({ path: "/body/url", code: "url-not-allowed" });
    for (const [method, url] of [
      ["GET", "/api/webhook/"],
      ["POST", "/api/webhook/"],
      ["GET", `/api/webhook/${someone.id}`],
      ["PATCH", `/api/webhook/${someone.id}`],
      ["DELETE", `/api/webhook/${someone.id}`],
      ["POST", `/api/webhook/${someone.id}/rotate-secret`],
      ["POST", `/api/webhook/${someone.id}/test`],
      ["GET", `/api/webhook/${someone.id}/deliveries`],
      ["POST", `/api/webhook/${someone.id}/deliveries/5f0c7d2e-4d3b-4f7a-a1c2-9e8b7a6d5c4f/retry`],
    ] as const) {
      const payload =
        method === "POST" && url === "/api/webhook/"
          ? { url: "https://example.com/", event_types: ["order.created"] }
          : method === "PATCH"
            ? { enabled: true }
            : undefined;
      const forbidden = await t.request({ method, url, token: alice.access, ...(payload ? { payload } : {}) });
      expect(forbidden.statusCode, `${method} ${url}`).toBe(403);
      expect((await t.request({ method, url, ...(payload ? { payload } : {}) })).statusCode).toBe(401);
    }
    const badId = await t.request({ url: "/api/webhook/not-a-uuid", token: admin });
    expect(badId.statusCode).toBe(400);
    await t.request({ method: "DELETE", url: `/api/webhook/${someone.id}`, token: admin });
  });
});

describe("delivering events", () => {
  it("delivers each committed change once, signed, with the event's id as webhook-id and the stream's body; nothing for a refused order", async () => {
    const hook = await endpoint(["order.created", "order.cancelled"]);
    const product = await createProduct(viaApp(t), admin, { stock: 3 });
    const questionsBefore = await commitQuestions();
    const placed = await order(product.id, 2);
    const refused = await t.request({ method: "POST", url: "/api/order/", token: alice.access, payload: { products: [{ id: product.id, quantity: 2 }] } });
    expect(refused.statusCode).toBe(400);
    const cancelled = (await t.request({ method: "POST", url: `/api/order/${placed.id}/cancel`, token: alice.access })).json();
    await receiver.waitFor(() => forPath(hook.path).length >= 2);
    await waitForDelivery(hook.id, "delivered", 2);
    // Both transactions said they committed: their dispatcher never had to ask the database.
    expect(await commitQuestions()).toBe(questionsBefore);

    const got = forPath(hook.path);
    expect(got.map((r) => [r.payload.type, r.payload.data])).toEqual([
      ["order.created", placed],
      ["order.cancelled", cancelled],
    ]);
    expect(receiver.unverified).toEqual([]);
    // Listed once every older transaction on the server has ended: read until both are.
    let stream: { id: string; type: string; occurred_at: string; data: unknown }[] = [];
    for (let i = 0; i < 250 && !got.every((r) => stream.some((e) => e.id === r.webhookId)); i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      stream = (await t.request({ url: "/api/event/?type=order.created&type=order.cancelled&limit=1000", token: admin })).json().results;
    }
    for (const r of got) {
      const event = stream.find((e) => e.id === r.webhookId)!;
      expect(r.payload).toEqual({ type: event.type, timestamp: event.occurred_at, data: event.data });
      expect(r.signatures).toHaveLength(1);
      expect(r.signatures[0]).toMatch(/^v1,/);
      expect(Math.abs(Number(r.timestamp) * 1000 - r.at)).toBeLessThan(5_000);
    }
    // A product event is not one this endpoint asked for.
    expect(got.some((r) => r.payload.type.startsWith("product."))).toBe(false);
    const log = await deliveries(hook.id);
    expect(log.results.map((d: { event_type: string }) => d.event_type).sort()).toEqual(["order.cancelled", "order.created"]);
    for (const d of log.results) {
      expect(d).toMatchObject({ status: "delivered", attempts: 1, last_response_code: 204, last_error: null, next_attempt_at: null });
      expect(d.last_duration_ms).toBeGreaterThanOrEqual(0);
    }
  });

  it("sends nothing for a change rolled back after its event and its delivery (taken at insert) were written", async () => {
    const hook = await endpoint(["product.created"]);
    const rolledBack = { id: 2_000_000_001, name: "Rolled back", price: "1.00", stock: 1 };
    const questionsBefore = await commitQuestions();
    await expect(
      t.app.database.prisma.$transaction(async (tx) => {
        const eventId = await recordEvent(tx, "product.created", rolledBack as never);
        // Written already leased to this process's dispatcher: its first attempt is claimed.
        const written = await tx.$queryRawUnsafe<{ attempts: number }[]>("SELECT attempts FROM webhook_deliveries WHERE event_id = $1::uuid", eventId);
        expect(written).toEqual([{ attempts: 1 }]);
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    // A transaction that never says it committed: its dispatcher asks the database (after a second).
    await expect.poll(commitQuestions, { timeout: 5_000 }).toBeGreaterThan(questionsBefore);
    const product = await createProduct(viaApp(t), admin);
    await waitForDelivery(hook.id, "delivered");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(forPath(hook.path).map((r) => r.payload.data.id)).toEqual([product.id]);
    expect((await deliveries(hook.id)).count).toBe(1);
  });

  it("retries refused attempts on the schedule with the same webhook-id, then delivers", async () => {
    const hook = await endpoint(["product.created"]);
    receiver.answer(hook.path, (_r, attempt) => ({ status: attempt <= 2 ? 500 : 200 }));
    const before = await metric('webhook_delivery_attempts_total{outcome="retrying"}');
    const product = await createProduct(viaApp(t), admin);
    const [delivery] = await waitForDelivery(hook.id, "delivered");
    const got = forPath(hook.path);
    expect(got.map((r) => r.answered)).toEqual([500, 500, 200]);
    expect(new Set(got.map((r) => r.webhookId)).size).toBe(1);
    // The first attempt (taken at insert) and the retries (claimed) send the same bytes.
    expect(new Set(got.map((r) => r.body)).size).toBe(1);
    expect(got[0]!.payload.data).toEqual(product);
    // Backoff: about 100 ms, then about 200 ms (±20 % jitter, plus polling).
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(SCHEDULE[0]! * 0.8 - 5);
    expect(got[2]!.at - got[1]!.at).toBeGreaterThanOrEqual(SCHEDULE[1]! * 0.8 - 5);
    expect(delivery).toMatchObject({ status: "delivered", attempts: 3, last_response_code: 200 });
    expect(await metric('webhook_delivery_attempts_total{outcome="retrying"}')).toBe(before + 2);
    expect(receiver.unverified).toEqual([]);
  });

  it("counts an answer slower than the timeout as a failed attempt and tries again", async () => {
    const hook = await endpoint(["product.created"]);
    receiver.answer(hook.path, (_r, attempt) => (attempt === 1 ? { status: 200, delayMs: TIMEOUT_MS + 400 } : { status: 202 }));
    await createProduct(viaApp(t), admin);
    const [delivery] = await waitForDelivery(hook.id, "delivered");
    expect(delivery).toMatchObject({ attempts: 2, last_response_code: 202 });
    await receiver.waitFor(() => forPath(hook.path).length === 2);
    expect(forPath(hook.path).map((r) => r.answered)).toEqual(["hang", 202]);
  });

  it("fails a delivery after its last attempt, and honours Retry-After on 429", async () => {
    const hook = await endpoint(["product.created"]);
    receiver.answer(hook.path, () => ({ status: 503 }));
    await createProduct(viaApp(t), admin);
    const [failed] = await waitForDelivery(hook.id, "failed");
    expect(failed).toMatchObject({ status: "failed", attempts: SCHEDULE.length + 1, last_response_code: 503, next_attempt_at: null, delivered_at: null });
    expect((await t.request({ url: `/api/webhook/${hook.id}`, token: admin })).json()).toMatchObject({ enabled: true });

    const limited = await endpoint(["product.created"]);
    receiver.answer(limited.path, (_r, attempt) => (attempt === 1 ? { status: 429, headers: { "retry-after": "1" } } : { status: 204 }));
    await createProduct(viaApp(t), admin);
    await waitForDelivery(limited.id, "delivered");
    const got = forPath(limited.path);
    expect(got.map((r) => r.answered)).toEqual([429, 204]);
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it("disables an endpoint that answers 410, and counts it", async () => {
    const hook = await endpoint(["product.created"]);
    receiver.answer(hook.path, () => ({ status: 410 }));
    await createProduct(viaApp(t), admin);
    const [failed] = await waitForDelivery(hook.id, "failed");
    expect(failed).toMatchObject({ attempts: 1, last_response_code: 410 });
    expect((await t.request({ url: `/api/webhook/${hook.id}`, token: admin })).json()).toMatchObject({ enabled: false, disabled_reason: "gone" });
    expect(await metric("webhook_endpoints_disabled")).toBeGreaterThanOrEqual(1);
    // Nothing more is sent to it.
    await createProduct(viaApp(t), admin);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(forPath(hook.path)).toHaveLength(1);
  });

  it("keeps trying an endpoint that went away and delivers when it comes back, in each resource's order", async () => {
    const hook = await endpoint(["order.created", "order.cancelled"]);
    const product = await createProduct(viaApp(t), admin, { stock: 100 });
    await receiver.stop();
    const orders = [];
    try {
      for (let i = 0; i < 4; i++) orders.push(await order(product.id));
      for (const o of orders.slice(0, 2)) await t.request({ method: "POST", url: `/api/order/${o.id}/cancel`, token: alice.access });
      let refused: { last_error: string | null; last_response_code: number | null; attempts: number } | undefined;
      for (let i = 0; i < 200 && !refused; i++) {
        refused = (await deliveries(hook.id, "?status=pending&limit=100")).results.find((d: { last_error: string | null }) => d.last_error !== null);
        if (!refused) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(refused!.last_error).toMatch(/ECONNREFUSED/);
      expect(refused!.last_response_code).toBeNull();
      expect(refused!.attempts).toBeGreaterThanOrEqual(1);
    } finally {
      await receiver.start();
    }
    await waitForDelivery(hook.id, "delivered", 6);
    const got = forPath(hook.path);
    for (const o of orders.slice(0, 2)) {
      const types = got.filter((r) => r.payload.data.id === o.id).map((r) => r.payload.type);
      expect(types).toEqual(["order.created", "order.cancelled"]);
    }
    expect(receiver.unverified).toEqual([]);
  });

  it("holds an order's cancel back until its creation is delivered, even while the creation is being retried", async () => {
    const hook = await endpoint(["order.created", "order.cancelled"]);
    receiver.answer(hook.path, (r, attempt) => ({ status: r.payload.type === "order.created" && attempt <= 2 ? 500 : 204 }));
    const product = await createProduct(viaApp(t), admin, { stock: 10 });
    const placed = await order(product.id);
    await t.request({ method: "POST", url: `/api/order/${placed.id}/cancel`, token: alice.access });
    await waitForDelivery(hook.id, "delivered", 2);
    expect(forPath(hook.path).map((r) => [r.payload.type, r.answered])).toEqual([
      ["order.created", 500],
      ["order.created", 500],
      ["order.created", 204],
      ["order.cancelled", 204],
    ]);
  });
});

describe("secrets, test events and replays", () => {
  it("signs with both secrets during a rotation's overlap", async () => {
    const hook = await endpoint(["product.created"]);
    const rotated = await t.request({ method: "POST", url: `/api/webhook/${hook.id}/rotate-secret`, token: admin });
    expect(rotated.statusCode).toBe(200);
    const { secret } = rotated.json();
    expect(secret).not.toBe(hook.secret);
    expect(Date.parse(rotated.json().previous_secret_expires_at) - Date.now()).toBeGreaterThan(50_000);
    receiver.trust(hook.path, secret);
    await createProduct(viaApp(t), admin);
    await waitForDelivery(hook.id, "delivered");
    const [got] = forPath(hook.path);
    expect(got!.signatures).toHaveLength(2);
    expect(got!.verifiedWith.sort()).toEqual([hook.secret, secret].sort());
  });

  it("sends a test event to the one endpoint, and replays a delivered one with the same webhook-id", async () => {
    const hook = await endpoint(["order.cancelled"]);
    const other = await endpoint(["order.cancelled"]);
    const queued = await t.request({ method: "POST", url: `/api/webhook/${hook.id}/test`, token: admin });
    expect(queued.statusCode).toBe(202);
    expect(queued.json()).toMatchObject({ event_type: "webhook.test", status: "pending", attempts: 0 });
    const [delivered] = await waitForDelivery(hook.id, "delivered");
    const [got] = forPath(hook.path);
    expect(got!.payload).toMatchObject({ type: "webhook.test", data: { id: hook.id, url: hook.url } });
    expect(got!.webhookId).toBe(delivered.event_id);
    expect(forPath(other.path)).toEqual([]);
    // Not part of the stream.
    const stream = (await t.request({ url: "/api/event/?limit=1000", token: admin })).json().results;
    expect(stream.some((e: { id: string }) => e.id === got!.webhookId)).toBe(false);

    const replay = await t.request({ method: "POST", url: `/api/webhook/${hook.id}/deliveries/${delivered.id}/retry`, token: admin });
    expect(replay.statusCode).toBe(202);
    expect(replay.json()).toMatchObject({ id: delivered.id, status: "pending", attempts: 0 });
    await receiver.waitFor(() => forPath(hook.path).length === 2);
    expect(forPath(hook.path).map((r) => r.webhookId)).toEqual([got!.webhookId, got!.webhookId]);

    receiver.answer(other.path, () => ({ status: 500 }));
    const pendingTest = (await t.request({ method: "POST", url: `/api/webhook/${other.id}/test`, token: admin })).json();
    const busy = await t.request({ method: "POST", url: `/api/webhook/${other.id}/deliveries/${pendingTest.id}/retry`, token: admin });
    expect(busy.statusCode).toBe(409);
    expect(busy.json()).toMatchObject({ code: "delivery-pending", status: 409 });
    // Another endpoint's delivery is not found under this one.
    expect((await t.request({ method: "POST", url: `/api/webhook/${hook.id}/deliveries/${pendingTest.id}/retry`, token: admin })).statusCode).toBe(404);
    await t.request({ method: "PATCH", url: `/api/webhook/${other.id}`, token: admin, payload: { enabled: false } });
  });
});

describe("removing an endpoint while events are written", () => {
  // Last in this file: its many orders would push the other tests' events past the stream's first page.
  it("fails no change: every order placed meanwhile is accepted", async () => {
    const product = await createProduct(viaApp(t), admin, { stock: 100_000 });
    let removing = true;
    const statuses = new Map<number, number>();
    // Orders placed without pause by eight clients for as long as endpoints are added and removed.
    // A client stops at its first answer other than 201; the statuses below say so.
    const refused: string[] = [];
    const clients = Array.from({ length: 8 }, async () => {
      while (removing && refused.length === 0) {
        const answer = await t.request({ method: "POST", url: "/api/order/", token: alice.access, payload: { products: [{ id: product.id, quantity: 1 }] } });
        statuses.set(answer.statusCode, (statuses.get(answer.statusCode) ?? 0) + 1);
        if (answer.statusCode !== 201) refused.push(`${answer.statusCode}: ${answer.body}`);
      }
    });
    // 60 rounds, or as many as fit in 8 s (a busy embedded database, where transactions take turns, fits fewer).
    const until = Date.now() + 8_000;
    let rounds = 0;
    try {
      for (; rounds < 60 && (rounds < 10 || Date.now() < until); rounds++) {
        const doomed = await endpoint(["order.created"]);
        await new Promise((resolve) => setTimeout(resolve, 5));
        const removed = await t.request({ method: "DELETE", url: `/api/webhook/${doomed.id}`, token: admin });
        expect(removed.statusCode, removed.body).toBe(204);
        expect((await t.request({ url: `/api/webhook/${doomed.id}/deliveries`, token: admin })).statusCode).toBe(404);
      }
    } finally {
      removing = false;
      await Promise.all(clients);
    }
    expect(refused, "orders placed while an endpoint was removed").toEqual([]);
    expect([...statuses.keys()]).toEqual([201]);
    expect(statuses.get(201)).toBeGreaterThan(rounds);
  }, 60_000);

  it("answers a test event for an endpoint being removed with 202 or 404, never 500", async () => {
    for (let round = 0; round < 40; round++) {
      const doomed = await endpoint(["order.created"]);
      // The removal starts 0 to 3 ms after the test event, so that it lands at every point of it.
      const [tested, removed] = await Promise.all([
        t.request({ method: "POST", url: `/api/webhook/${doomed.id}/test`, token: admin }),
        new Promise((resolve) => setTimeout(resolve, round % 4)).then(() => t.request({ method: "DELETE", url: `/api/webhook/${doomed.id}`, token: admin })),
      ]);
      expect(removed.statusCode, removed.body).toBe(204);
      expect([202, 404], tested.body).toContain(tested.statusCode);
      if (tested.statusCode === 404) expect(tested.json().code).toBe("not-found");
    }
  });
});
