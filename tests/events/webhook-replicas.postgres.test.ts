// Two service processes on one PostgreSQL share the deliveries: every event reaches the
// receiver exactly once when it answers promptly (the normal case), whichever process sends it.
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.js";
import { adminLogin, call, expectDeliveredInOrder, streamEventsOnceListed } from "../helpers/webhook-flow.js";
import { type Receiver, startReceiver } from "../helpers/webhook-receiver.js";

let receiver: Receiver;
let db: TestDatabase;
let replicas: ServerProcess[] = [];
beforeAll(async () => {
  receiver = await startReceiver();
  db = await createTestDatabase();
  const env = { DATABASE_URL: db.url, LOG_LEVEL: "warn", WEBHOOK_POLL_MS: "10", WEBHOOK_CONCURRENCY: "4" };
  replicas = await Promise.all([startServerProcess(env), startServerProcess(env)]);
}, 120_000);
afterAll(async () => {
  for (const replica of replicas) replica.child.kill("SIGTERM");
  await Promise.all(replicas.map((replica) => replica.exited));
  await receiver.close();
  await db.close();
});

async function deliveredBy(baseUrl: string): Promise<number> {
  const text = (await call(baseUrl, "GET", "/metrics")).body;
  return Number(/^webhook_delivery_attempts_total\{outcome="delivered"\} (\S+)$/m.exec(text)?.[1]);
}

it("does not send an event twice when two processes deliver", async () => {
  const [a, b] = replicas as [ServerProcess, ServerProcess];
  const admin = await adminLogin(a.baseUrl);
  const created = await call(a.baseUrl, "POST", "/api/webhook/", admin, { url: receiver.url("/replicas"), event_types: ["order.created", "order.cancelled"] });
  receiver.trust("/replicas", created.json().secret);
  const product = await call(a.baseUrl, "POST", "/api/product/", admin, { name: "Replica Tea", price: "1", stock: 1000 });
  const orders = await Promise.all(
    Array.from({ length: 60 }, async (_, i) =>
      (await call(i % 2 ? a.baseUrl : b.baseUrl, "POST", "/api/order/", admin, { products: [{ id: product.json().id, quantity: 1 }] })).json(),
    ),
  );
  await Promise.all(orders.slice(0, 20).map((o, i) => call(i % 2 ? b.baseUrl : a.baseUrl, "POST", `/api/order/${o.id}/cancel`, admin)));
  const events = await streamEventsOnceListed(a.baseUrl, admin, ["order.created", "order.cancelled"], 80);
  await receiver.waitFor((got) => got.filter((r) => r.path === "/replicas").length >= 80, 30_000);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const got = receiver.received.filter((r) => r.path === "/replicas");
  expect(got).toHaveLength(80);
  expect(new Set(got.map((r) => r.webhookId)).size).toBe(80);
  expectDeliveredInOrder(events, got);
  expect(receiver.unverified).toEqual([]);
  const [byA, byB] = [await deliveredBy(a.baseUrl), await deliveredBy(b.baseUrl)];
  expect(byA + byB).toBe(80);
}, 60_000);
