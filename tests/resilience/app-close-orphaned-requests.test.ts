// app.close() while requests whose clients have already gone are still being handled and queue
// for the database (a load generator that stopped, a client that timed out). Node's
// server.close() waits only for open connections, so these requests must be finished before the
// database is closed under them: their orders are placed and nothing answers 5xx. Before, the
// database client was closed at once: Prisma aborted every transaction still waiting to start
// (P2028 "Unable to start a transaction in the given time", answered 503 to nobody), which is
// what `npm run bench:orders` logged after its last phase on the embedded database.
import { connect, type AddressInfo, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { RouteOptions } from "fastify";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { createProduct, viaApp } from "../helpers/factories.js";
import { captureLogs } from "../helpers/log-capture.js";

const ORDERS = 6;
const QUANTITY = 2;
const STOCK = 100;

// The order handler waits at this gate, so that the test decides when the orders go on to the database.
let arrived = 0;
let openGate: () => void = () => {};
const gate = new Promise<void>((resolve) => (openGate = resolve));
function gateOrders(route: RouteOptions): void {
  if (route.method !== "POST" || route.url.replace(/\/$/, "") !== "/api/order") return;
  const handler = route.handler;
  route.handler = async function (this: unknown, request, reply) {
    arrived++;
    await gate;
    return handler.call(this as never, request, reply);
  };
}

let db: TestDatabase;
let t: TestApp;
const logs = captureLogs();
beforeAll(async () => {
  // The database outlives the app here, so that what the requests did can be read after it closed.
  db = await createTestDatabase();
  // Row locks and statements may wait as long as the test holds the row; a connection for every order.
  t = await startTestApp(
    { DB_POOL_MAX: ORDERS + 2, DB_LOCK_TIMEOUT_MS: 60_000, DB_STATEMENT_TIMEOUT_MS: 60_000 },
    { database: { url: db.url, waits: db.waits }, logger: { level: "info", stream: logs.stream }, observeRoute: gateOrders },
  );
  await t.app.listen({ host: "127.0.0.1", port: 0 });
}, 60_000);
afterAll(() => db?.close());

/** Sends a whole HTTP request on a socket of its own and returns the socket, without reading the answer. */
async function sendWithoutReading(port: number, token: string, body: unknown): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  socket.on("error", () => {});
  const json = JSON.stringify(body);
  socket.write(
    `POST /api/order/ HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
  );
  return socket;
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

it("finishes the requests of clients that have gone before closing the database: orders placed, no 5xx", async () => {
  const admin = await t.adminToken();
  const product = await createProduct(viaApp(t), admin, { stock: STOCK });
  const buyers = await Promise.all(Array.from({ length: ORDERS }, () => t.createUser()));
  const port = (t.app.server.address() as AddressInfo).port;
  const pool = t.database.pool;

  // Every order reaches its handler; then its client goes away.
  const sockets = await Promise.all(buyers.map((buyer) => sendWithoutReading(port, buyer.access, { products: [{ id: product.id, quantity: QUANTITY }] })));
  await until(() => arrived === ORDERS, `${ORDERS} orders in their handler`);
  for (const socket of sockets) socket.destroy();

  const failures = () => logs.lines().filter((line) => Number((line.problem as { status?: number } | undefined)?.status) >= 500);
  // Another session holds the product's row, and the orders go on to queue for the database: each
  // holds a connection, waiting to begin behind the holder's transaction (embedded database) or for
  // the row lock (PostgreSQL).
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  await holder.query("BEGIN");
  await holder.query("SELECT stock FROM products WHERE id = $1 FOR UPDATE", [product.id]);
  let closing: Promise<unknown> = Promise.resolve();
  try {
    openGate();
    await until(() => pool.totalCount - pool.idleCount >= ORDERS, `${ORDERS} orders waiting for the database`);
    closing = t.app.close();
    // The row is let go once the app waits for the orders (before, the database was closed at
    // once under them: they failed, or on PostgreSQL the close waited for their row lock).
    await until(
      () => logs.lines().some((line) => String(line.msg).startsWith("waiting for")) || failures().length > 0,
      "the app to wait for the orders in flight",
      10_000,
    );
  } finally {
    openGate();
    await holder.query("COMMIT");
    await closing;
    await holder.end();
  }

  expect(failures().map((line) => line.msg)).toEqual([]);
  expect(pool.ended).toBe(true);
  const check = new pg.Client({ connectionString: db.url });
  await check.connect();
  try {
    const lines = await check.query("SELECT quantity FROM order_items WHERE product_id = $1", [product.id]);
    expect(lines.rows).toEqual(Array.from({ length: ORDERS }, () => ({ quantity: QUANTITY })));
    const stock = await check.query("SELECT stock FROM products WHERE id = $1", [product.id]);
    expect(stock.rows[0].stock).toBe(STOCK - ORDERS * QUANTITY);
  } finally {
    await check.end();
  }
}, 120_000);
