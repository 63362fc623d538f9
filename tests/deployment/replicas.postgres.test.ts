// Two replicas of the service, as real processes on loopback, on one PostgreSQL and one Redis,
// with nginx (ops/nginx) in front: what holds for one process holds for the deployment.
import pg from "pg";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertMatchesSpec } from "../helpers/contract.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import * as factories from "../helpers/factories.js";
import { send, type Call, type HttpAnswer } from "../helpers/http-client.js";
import { startRedisServer, type RedisServer } from "../../support/redis-server.js";
import { startReplicas, type Replicas } from "../helpers/replicas.js";

const LOGINS_PER_ADDRESS = 20;
const FAILURES_BEFORE_DELAY = 5;

let db: TestDatabase;
let redis: RedisServer;
let stack: Replicas;
let a: string;
let b: string;
let proxy: string;
let token: string;

/** Sends `call` and checks the answer against openapi.yaml (nginx's own errors included). */
async function call(baseUrl: string, request: Call, localAddress?: string): Promise<HttpAnswer> {
  const answer = await send(baseUrl, request, { localAddress });
  assertMatchesSpec(request.method, request.path, answer);
  return answer;
}

const createProduct = async (baseUrl: string, name: string, stock: number) =>
  (await factories.createProduct(factories.viaHttp(baseUrl), token, { name, stock })).id;

const registerUser = (baseUrl: string, name: string) => factories.registerUser(factories.viaHttp(baseUrl), { name, password: "correct horse battery staple" });

const loginAs = (name: string, password: string): Call => ({ method: "POST", path: "/api/token/", body: { name, password } });

beforeAll(async () => {
  [db, redis] = await Promise.all([createTestDatabase(), startRedisServer()]);
  stack = await startReplicas(2, {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    TRUST_PROXY: "true",
    DB_POOL_MAX: "20",
    LOGIN_RATE_LIMIT_PER_MINUTE: String(LOGINS_PER_ADDRESS),
    LOGIN_FAILURES_BEFORE_DELAY: String(FAILURES_BEFORE_DELAY),
  });
  [a, b] = stack.replicas.map((replica) => replica.baseUrl) as [string, string];
  proxy = stack.nginx.baseUrl;
  const login = await call(a, loginAs("admin", "12345"));
  expect(login.statusCode, login.body).toBe(200);
  token = login.json().access;
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await Promise.all([redis?.stop(), db?.close()]);
});

describe("two replicas behind nginx", () => {
  it("never oversell under concurrent orders spread over both replicas, directly and through nginx", async () => {
    const stock = 25;
    const productId = await createProduct(a, "Replica Tea", stock);
    const targets = [a, b, proxy];
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        call(targets[i % 3]!, { method: "POST", path: "/api/order/", token, body: { products: [{ id: productId, quantity: 1 }] } }),
      ),
    );
    const placed = answers.filter((answer) => answer.statusCode === 201);
    const declined = answers.filter((answer) => answer.statusCode === 400);
    expect(placed).toHaveLength(stock);
    expect(declined).toHaveLength(60 - stock);
    for (const answer of placed) expect(answer.json().items).toMatchObject([{ product_id: productId, quantity: 1 }]);
    for (const answer of declined)
      expect(answer.json()).toMatchObject({ code: "insufficient-stock", errors: [{ product_id: productId, requested: 1, available: 0 }] });
    // nginx passed its third to both replicas.
    const proxied = (await stack.nginx.accessLog()).filter((line) => line.method === "POST" && line.uri === "/api/order/");
    expect(new Set(proxied.map((line) => line.upstream)).size).toBe(2);
    const product = await call(b, { method: "GET", path: `/api/product/${productId}`, token });
    expect(product.json().stock).toBe(0);
  }, 60_000);

  it("slow down wrong passwords for one name after the same number of failures as one process, alternating replicas", async () => {
    const attempts = FAILURES_BEFORE_DELAY + 2;
    const statuses = async (name: string, targets: string[], localAddress?: string) => {
      await registerUser(a, name);
      const seen: number[] = [];
      for (let i = 0; i < attempts; i++) seen.push((await call(targets[i % targets.length]!, loginAs(name, "wrong password"), localAddress)).statusCode);
      return seen;
    };
    const onOneProcess = await statuses("mallory-one", [a]);
    const expected = [...Array(FAILURES_BEFORE_DELAY).fill(401), 429, 429];
    expect(onOneProcess).toEqual(expected);
    expect(await statuses("mallory-alternating", [a, b])).toEqual(expected);
    // nginx spreads them itself (round robin over both replicas).
    expect(await statuses("mallory-proxied", [proxy], "127.0.0.4")).toEqual(expected);
    const upstreams = (await stack.nginx.accessLog()).filter((line) => line.client === "127.0.0.4").map((line) => line.upstream);
    expect(new Set(upstreams).size).toBe(2);
    // Slowed, not locked out of the other replica: the owner's right password is refused too, on both.
    for (const target of [a, b]) expect((await call(target, loginAs("mallory-alternating", "correct horse battery staple"))).statusCode).toBe(429);
  }, 60_000);

  it("count each client's address behind nginx (TRUST_PROXY), not nginx's", async () => {
    const tries = async (localAddress: string, times: number) => {
      const seen: number[] = [];
      for (let i = 0; i < times; i++) seen.push((await call(proxy, loginAs(`nobody-${localAddress}-${i}`, "wrong password"), localAddress)).statusCode);
      return seen;
    };
    const first = await tries("127.0.0.2", LOGINS_PER_ADDRESS + 1);
    expect(first.slice(0, LOGINS_PER_ADDRESS)).toEqual(Array(LOGINS_PER_ADDRESS).fill(401));
    expect(first[LOGINS_PER_ADDRESS]).toBe(429);
    // Another client behind the same nginx is not held back by the first one's attempts.
    expect(await tries("127.0.0.3", 2)).toEqual([401, 401]);
  }, 60_000);

  it("count a product created on one replica on the other within a second", async () => {
    const list = (baseUrl: string, keyword: string) => call(baseUrl, { method: "GET", path: `/api/product/?keyword=${keyword}&limit=1`, token });
    for (const [writer, reader] of [
      [a, b],
      [b, a],
      [proxy, a],
    ] as const) {
      const keyword = `fresh${randomUUID().slice(0, 8)}`;
      expect((await list(reader, keyword)).json().count).toBe(0); // counted, and now reused for up to 5 s
      await createProduct(writer, `${keyword} one`, 1);
      const written = Date.now();
      let count = 0;
      while (count !== 1 && Date.now() - written < 5_000) {
        count = (await list(reader, keyword)).json().count;
        if (count !== 1) await sleep(20);
      }
      const delay = Date.now() - written;
      expect(count).toBe(1);
      expect(delay).toBeLessThan(1_000);
    }
  }, 60_000);

  it("pass a request id to the replica and keep bodies within BODY_LIMIT_BYTES", async () => {
    // Not the probes: the service logs those at debug only.
    const requestId = `test-${randomUUID()}`;
    expect((await call(proxy, { method: "GET", path: "/openapi.json", headers: { "x-request-id": requestId } })).statusCode).toBe(200);
    await expect.poll(() => stack.replicas.some((replica) => replica.output().includes(requestId)), { timeout: 10_000 }).toBe(true);
    const withoutId = await call(proxy, { method: "GET", path: "/openapi.yaml" });
    expect(withoutId.statusCode).toBe(200);
    const logged = (await stack.nginx.accessLog()).filter((line) => line.uri === "/openapi.yaml").at(-1);
    expect(logged?.request_id).toMatch(/^[0-9a-f]{32}$/);
    await expect.poll(() => stack.replicas.some((replica) => replica.output().includes(String(logged?.request_id))), { timeout: 10_000 }).toBe(true);

    // 65536 bytes is the limit of both nginx and the service; one more byte is refused by either.
    const body = (size: number) => `{"name":"${"x".repeat(size - 26)}","password":"x"}`;
    expect(body(65_536)).toHaveLength(65_536);
    for (const target of [proxy, a]) {
      const tooLarge = await call(target, { method: "POST", path: "/api/register/", rawBody: body(65_537) });
      expect(tooLarge.statusCode).toBe(413);
      expect(tooLarge.json()).toMatchObject({ code: "payload-too-large", instance: "/api/register/" });
      expect((await call(target, { method: "POST", path: "/api/register/", rawBody: body(65_536) })).statusCode).toBe(400);
    }
  }, 30_000);

  // Last: it kills a replica.
  it("lose no order when a replica is killed mid-load, and nginx serves on from the other", async () => {
    const productId = await createProduct(a, "Survivor Tea", 10_000);
    // The replica is killed after KILL_AFTER orders; orders go on until LATE_ORDERS more have been
    // started well after it (by then nginx knows), however fast this machine places them.
    const KILL_AFTER = 80;
    const LATE_ORDERS = 80;
    const firstTry: number[] = [];
    const ids = new Set<number>();
    let started = 0;
    let killedAt = Infinity;
    const startedAfterKill: number[] = [];
    const place = async (key: string, late: boolean) => {
      for (let attempt = 0; ; attempt++) {
        // A client that gets no answer, or a gateway error, retries with the same key.
        const answer = await call(proxy, {
          method: "POST",
          path: "/api/order/",
          token,
          headers: { "idempotency-key": key },
          body: { products: [{ id: productId, quantity: 1 }] },
        }).catch(() => undefined);
        if (attempt === 0) {
          firstTry.push(answer?.statusCode ?? 0);
          if (late) startedAfterKill.push(answer?.statusCode ?? 0);
        }
        if (answer && answer.statusCode >= 500) expect(answer.headers["content-type"]).toMatch(/^application\/problem\+json/);
        if (answer?.statusCode === 201) return ids.add(answer.json().id);
        if (attempt >= 5) throw new Error(`order ${key} not placed: ${answer?.statusCode} ${answer?.body}`);
        await sleep(100);
      }
    };
    let lateStarted = 0;
    const workers = Array.from({ length: 12 }, async () => {
      while (started < KILL_AFTER || lateStarted < LATE_ORDERS) {
        started++;
        if (started === KILL_AFTER) {
          stack.replicas[1]!.child.kill("SIGKILL");
          killedAt = Date.now();
        }
        const late = Date.now() > killedAt + 500;
        if (late) lateStarted++;
        await place(randomUUID(), late);
      }
    });
    await Promise.all(workers);
    const orders = started;
    expect(killedAt).toBeLessThan(Infinity);
    expect(ids.size).toBe(orders); // one order per key, each placed exactly once
    expect(startedAfterKill).toHaveLength(LATE_ORDERS);
    expect(startedAfterKill.every((status) => status === 201)).toBe(true); // nginx no longer sends to the dead replica
    expect(firstTry.filter((status) => status !== 201).length).toBeLessThanOrEqual(12); // at most those in flight on it

    const check = new pg.Client({ connectionString: db.url });
    await check.connect();
    try {
      const sold = await check.query("SELECT count(DISTINCT order_id)::int AS orders, sum(quantity)::int AS units FROM order_items WHERE product_id = $1", [
        productId,
      ]);
      expect(sold.rows[0]).toEqual({ orders, units: orders });
      const stock = await check.query("SELECT stock FROM products WHERE id = $1", [productId]);
      expect(stock.rows[0].stock).toBe(10_000 - orders);
    } finally {
      await check.end();
    }
  }, 60_000);
});
