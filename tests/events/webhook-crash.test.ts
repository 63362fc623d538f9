// The service as a real process, SIGKILLed while a delivery is in flight and started again on
// the same database: every committed change's event still reaches the receiver, at least once,
// with the same webhook-id on every copy, and an order's events in order.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { testDatabaseKind } from "../helpers/database-setup.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startServerProcess, type ServerProcess } from "../helpers/server-process.js";
import { adminLogin, call, expectDeliveredInOrder, streamEventsOnceListed } from "../helpers/webhook-flow.js";
import { type Receiver, startReceiver } from "../helpers/webhook-receiver.js";

let receiver: Receiver;
let db: TestDatabase | undefined;
let scratch: string;
let env: Record<string, string>;
beforeAll(async () => {
  receiver = await startReceiver();
  scratch = await mkdtemp(join(tmpdir(), "order-service-webhook-crash-"));
  if (testDatabaseKind() === "postgres") db = await createTestDatabase();
  env = {
    ...(db ? { DATABASE_URL: db.url } : { DATA_DIR: scratch }),
    LOG_LEVEL: "warn",
    WEBHOOK_TIMEOUT_MS: "1000",
    WEBHOOK_POLL_MS: "20",
    WEBHOOK_RETRY_SCHEDULE_MS: "100,100,100,100,100,100",
  };
});
afterAll(async () => {
  await receiver.close();
  await db?.close();
  await rm(scratch, { recursive: true, force: true });
});

it("delivers every event at least once after a SIGKILL mid-delivery and a restart", async () => {
  let server: ServerProcess = await startServerProcess(env);
  try {
    const admin = await adminLogin(server.baseUrl);
    const created = await call(server.baseUrl, "POST", "/api/webhook/", admin, {
      url: receiver.url("/crash"),
      event_types: ["order.created", "order.cancelled"],
    });
    expect(created.statusCode, created.body).toBe(201);
    receiver.trust("/crash", created.json().secret);
    // The first delivery hangs: the process is killed while it waits for the answer.
    let hung = false;
    receiver.answer("/crash", () => {
      if (!hung) {
        hung = true;
        return { status: 204, delayMs: 3_000 };
      }
      return { status: 204 };
    });
    const product = await call(server.baseUrl, "POST", "/api/product/", admin, { name: "Crash Tea", price: "1", stock: 100 });
    const orders = [];
    for (let i = 0; i < 6; i++) {
      const placed = await call(server.baseUrl, "POST", "/api/order/", admin, { products: [{ id: product.json().id, quantity: 1 }] });
      expect(placed.statusCode).toBe(201);
      orders.push(placed.json());
    }
    for (const o of orders.slice(0, 3)) expect((await call(server.baseUrl, "POST", `/api/order/${o.id}/cancel`, admin)).statusCode).toBe(200);
    const refused = await call(server.baseUrl, "POST", "/api/order/", admin, { products: [{ id: product.json().id, quantity: 1000 }] });
    expect(refused.statusCode).toBe(400);
    await receiver.waitFor((got) => got.some((r) => r.answered === "hang"));
    server.child.kill("SIGKILL");
    await server.exited;

    server = await startServerProcess(env);
    const events = await streamEventsOnceListed(server.baseUrl, admin, ["order.created", "order.cancelled"], 9);
    expect(events.map((e) => e.data.id).sort()).toEqual([...orders.map((o) => o.id), ...orders.slice(0, 3).map((o) => o.id)].sort());
    await receiver.waitFor((got) => events.every((e) => got.some((r) => r.webhookId === e.id && r.answered === 204)), 20_000);
    expectDeliveredInOrder(events, receiver.received);
    expect(receiver.unverified).toEqual([]);
    // The one in flight when the process died was sent again, with the same webhook-id.
    const hang = receiver.received.find((r) => r.answered === "hang")!;
    expect(receiver.received.filter((r) => r.webhookId === hang.webhookId).length).toBeGreaterThanOrEqual(2);
  } finally {
    server.child.kill("SIGKILL");
    await server.exited;
  }
}, 90_000);
