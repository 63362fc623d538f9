// The back-office order list (GET /api/order/ with user_id, status, created_after, created_before,
// cursor): every filter alone and combined against a model of the orders, walks through every
// page in both directions, what a normal user gets, and bad input (including forged cursors) as
// 400 problems. Without those parameters the answer is the reference's, unchanged.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";

type Json = Record<string, any>;

let t: TestApp;
let admin: string;
let adminId: string;
const customers: { id: string; access: string }[] = [];

/** What the test knows of each order: the model every answer is checked against. */
interface Placed {
  id: number;
  userId: string;
  status: "created" | "cancelled" | "fulfilled";
  createdAt: string;
}
const placed: Placed[] = [];

// Creation times set by SQL after placing: days apart, several orders sharing one instant (ties
// broken by id), and newer ids not always newer times, so the order is created_at's, not id's.
const BASE = Date.parse("2026-03-01T00:00:00.000Z");
const createdAtOf = (i: number) => new Date(BASE + (i % 7) * 86_400_000 + (i % 3 === 0 ? 0 : i * 1000)).toISOString();

beforeAll(async () => {
  t = await startTestApp();
  admin = await t.adminToken();
  adminId = (await t.request({ url: "/api/user/", token: admin })).json().results.find((u: Json) => u.name === "admin").id;
  for (let i = 0; i < 3; i++) customers.push(await t.createUser());
  const product = (await createProduct(viaApp(t), admin, { name: "Back Office Tea", price: "1.5", stock: 100_000 })).id;
  const owners = [...customers.map((c) => ({ id: c.id, access: c.access })), { id: adminId, access: admin }];
  for (let i = 0; i < 29; i++) {
    const owner = owners[i % 4 === 3 ? 3 : i % 3]!;
    const answer = await t.request({
      method: "POST",
      url: "/api/order/",
      token: owner.access,
      payload: { products: [{ id: product, quantity: 1 + (i % 5) }] },
    });
    expect(answer.statusCode, answer.body).toBe(201);
    placed.push({ id: answer.json().id, userId: owner.id, status: "created", createdAt: createdAtOf(i) });
  }
  for (const order of placed) {
    await t.database.pool.query("UPDATE orders SET created_at = $2::timestamptz WHERE id = $1", [order.id, order.createdAt]);
  }
  for (const [i, order] of placed.entries()) {
    if (i % 4 === 1) {
      expect((await t.request({ method: "POST", url: `/api/order/${order.id}/cancel`, token: admin })).statusCode).toBe(200);
      order.status = "cancelled";
    } else if (i % 5 === 2) {
      expect((await t.request({ method: "POST", url: `/api/order/${order.id}/fulfil`, token: admin })).statusCode).toBe(200);
      order.status = "fulfilled";
    }
  }
}, 120_000);
afterAll(() => t.close());

const newestFirst = (a: Placed, b: Placed) => (a.createdAt === b.createdAt ? b.id - a.id : a.createdAt < b.createdAt ? 1 : -1);
const expected = (keep: (o: Placed) => boolean) =>
  placed
    .filter(keep)
    .sort(newestFirst)
    .map((o) => o.id);

/** Where inject's requests come from, as links name it. */
const ORIGIN = "http://localhost:80";
const list = (query: string, token = admin) => t.request({ url: `/api/order/?${query}`, token });
/** The path and query of a link, as a request URL. */
const requestUrl = (link: string) => {
  const url = new URL(link, "http://x");
  return `${url.pathname}${url.search}`;
};

/** Every order as GET /api/order/{id} answers it, to compare list entries with. */
async function orderBody(id: number): Promise<Json> {
  const answer = await t.request({ url: `/api/order/${id}`, token: admin });
  expect(answer.statusCode).toBe(200);
  return answer.json();
}

/**
 * Follows `next` from the first page to the last, then `previous` back to the first: both walks
 * must list exactly `ids`, in order, each page's entries being the orders as read one by one.
 */
async function walk(query: string, ids: number[], limit: number, token = admin): Promise<void> {
  const pages: Json[] = [];
  let answer = await list(`${query}&limit=${limit}`, token);
  for (;;) {
    expect(answer.statusCode, answer.body).toBe(200);
    const page = answer.json();
    expect(page.count).toBe(ids.length);
    expect(page.results.length).toBeLessThanOrEqual(limit);
    pages.push(page);
    expect(pages.length).toBeLessThanOrEqual(ids.length + 1);
    if (page.next === null) break;
    expect(page.next).toContain("cursor=");
    expect(page.next).not.toContain("offset=");
    answer = await t.request({ url: requestUrl(page.next), token });
  }
  const forward = pages.flatMap((p) => p.results);
  expect(forward.map((o: Json) => o.id)).toEqual(ids);
  for (const order of forward) expect(order).toEqual(await orderBody(order.id));
  expect(pages[0]!.previous).toBeNull();

  const backPages: Json[] = [pages.at(-1)!];
  while (backPages.at(-1)!.previous !== null) {
    const back = await t.request({ url: requestUrl(backPages.at(-1)!.previous), token });
    expect(back.statusCode, back.body).toBe(200);
    backPages.push(back.json());
    expect(backPages.length).toBeLessThanOrEqual(ids.length + 1);
  }
  expect(
    backPages
      .reverse()
      .flatMap((p) => p.results)
      .map((o: Json) => o.id),
  ).toEqual(ids);
}

describe("without the back-office parameters", () => {
  it("answers exactly the reference's list: the caller's own orders by offset, newest id first, admins included", async () => {
    for (const [token, userId] of [...customers.map((c) => [c.access, c.id] as const), [admin, adminId] as const]) {
      const own = placed
        .filter((o) => o.userId === userId)
        .map((o) => o.id)
        .sort((a, b) => b - a);
      const first = await list("limit=2", token);
      expect(first.statusCode).toBe(200);
      expect(first.json()).toEqual({
        count: own.length,
        next: `${ORIGIN}/api/order/?limit=2&offset=2`,
        previous: null,
        results: await Promise.all(own.slice(0, 2).map(orderBody)),
      });
      const second = await list("limit=2&offset=2", token);
      expect(second.json()).toEqual({
        count: own.length,
        next: own.length > 4 ? `${ORIGIN}/api/order/?limit=2&offset=4` : null,
        previous: `${ORIGIN}/api/order/?limit=2`,
        results: await Promise.all(own.slice(2, 4).map(orderBody)),
      });
      const all = await t.request({ url: "/api/order/", token });
      expect(all.json().results.map((o: Json) => o.id)).toEqual(own.slice(0, 5));
    }
  });
});

describe("the back-office list for admins", () => {
  it("lists every customer's orders newest first (created_at, then id) with cursor links, in both directions", async () => {
    const ids = expected(() => true);
    expect(ids).not.toEqual([...ids].sort((a, b) => b - a));
    await walk("cursor=", ids, 4);
    await walk("cursor=", ids, 1);
    await walk("cursor=", ids, 100);
    const one = await list("cursor=&limit=100");
    expect(one.json()).toMatchObject({ count: placed.length, next: null, previous: null });
  });

  it("filters by customer, by one or several statuses, by creation time, and by all of them together", async () => {
    const [alice, bob] = customers;
    const after = createdAtOf(2);
    const before = createdAtOf(5);
    const cases: [string, (o: Placed) => boolean][] = [
      [`user_id=${bob!.id}`, (o) => o.userId === bob!.id],
      [`user_id=${bob!.id.toUpperCase()}`, (o) => o.userId === bob!.id],
      ["status=created", (o) => o.status === "created"],
      ["status=cancelled", (o) => o.status === "cancelled"],
      ["status=fulfilled&status=cancelled", (o) => o.status !== "created"],
      ["status=fulfilled&status=fulfilled", (o) => o.status === "fulfilled"],
      ["status=created&status=cancelled&status=fulfilled", () => true],
      [`created_after=${after}`, (o) => o.createdAt >= after],
      [`created_before=${before}`, (o) => o.createdAt < before],
      [`created_after=${after}&created_before=${before}`, (o) => o.createdAt >= after && o.createdAt < before],
      [
        `user_id=${alice!.id}&status=created&status=fulfilled&created_after=${after}&created_before=${createdAtOf(6)}`,
        (o) => o.userId === alice!.id && o.status !== "cancelled" && o.createdAt >= after && o.createdAt < createdAtOf(6),
      ],
      [`user_id=${customers[2]!.id}&status=cancelled`, (o) => o.userId === customers[2]!.id && o.status === "cancelled"],
      ["created_after=2030-01-01T00:00:00Z", () => false],
    ];
    for (const [query, keep] of cases) {
      const ids = expected(keep);
      expect(ids.length, query).toBeGreaterThanOrEqual(query.startsWith("created_after=2030") ? 0 : 1);
      await walk(query, ids, 3);
    }
  });

  it("reads date-times in any offset and rounds microseconds up to the column's milliseconds, exactly", async () => {
    const at = createdAtOf(1);
    const inclusive = expected((o) => o.createdAt >= at);
    const ms = Date.parse(at);
    const shifted = new Date(ms + 2 * 3_600_000).toISOString().replace(".000Z", "+02:00");
    expect((await list(`created_after=${encodeURIComponent(shifted)}&limit=100`)).json().results.map((o: Json) => o.id)).toEqual(inclusive);
    // 1 µs after the instant: the orders at exactly that millisecond are not after it.
    const micro = `${at.slice(0, 23)}001Z`;
    expect((await list(`created_after=${micro}&limit=100`)).json().results.map((o: Json) => o.id)).toEqual(expected((o) => o.createdAt > at));
    expect((await list(`created_before=${micro}&limit=100`)).json().results.map((o: Json) => o.id)).toEqual(expected((o) => o.createdAt <= at));
  });

  it("keeps a walk exact while orders are placed: new orders are not in it, none is skipped or repeated", async () => {
    const ids = expected(() => true);
    const first = (await list("cursor=&limit=5")).json();
    const product = (await createProduct(viaApp(t), admin, { name: "Walk Tea", price: "1", stock: 100 })).id;
    const late = await t.request({ method: "POST", url: "/api/order/", token: customers[0]!.access, payload: { products: [{ id: product, quantity: 1 }] } });
    expect(late.statusCode).toBe(201);
    const seen = [...first.results.map((o: Json) => o.id)];
    let next = first.next as string | null;
    while (next) {
      const page = (await t.request({ url: requestUrl(next), token: admin })).json();
      expect(page.count).toBe(ids.length + 1);
      seen.push(...page.results.map((o: Json) => o.id));
      next = page.next;
    }
    expect(seen).toEqual(ids);
    // The new order is the newest: the first page's previous side is empty at the start, and a fresh list starts with it.
    expect((await list("cursor=&limit=1")).json().results[0].id).toBe(late.json().id);
    placed.push({ id: late.json().id, userId: customers[0]!.id, status: "created", createdAt: late.json().created_at });
  });
});

describe("the back-office list for customers", () => {
  it("shows a customer only their own orders, with every filter, and refuses another customer's user_id with 403", async () => {
    const [alice, bob] = customers;
    await walk(
      "cursor=",
      expected((o) => o.userId === alice!.id),
      2,
      alice!.access,
    );
    await walk(
      `user_id=${alice!.id}`,
      expected((o) => o.userId === alice!.id),
      2,
      alice!.access,
    );
    await walk(
      "status=created",
      expected((o) => o.userId === alice!.id && o.status === "created"),
      2,
      alice!.access,
    );

    for (const userId of [bob!.id, adminId, "00000000-0000-4000-8000-000000000000"]) {
      const refused = await list(`user_id=${userId}`, alice!.access);
      expect(refused.statusCode).toBe(403);
      expect(refused.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(refused.json()).toMatchObject({
        type: "urn:order-service:problem:forbidden",
        status: 403,
        code: "forbidden",
        detail: "Only admins may list another customer's orders.",
        instance: "/api/order/",
      });
    }
  });

  it("does not let a customer follow an admin's cursor into other customers' orders", async () => {
    const adminPage = (await list("cursor=&limit=2")).json();
    const answer = await t.request({ url: requestUrl(adminPage.next), token: customers[0]!.access });
    expect(answer.statusCode).toBe(400);
    expect(answer.json().errors).toEqual([expect.objectContaining({ path: "/query/cursor", code: "cursor-mismatch" })]);
  });
});

describe("bad input", () => {
  const forge = (json: unknown) => Buffer.from(typeof json === "string" ? json : JSON.stringify(json)).toString("base64url");

  /** The signature of the unfiltered admin list, as the service writes it. */
  const cursorJson = async () => {
    const page = (await list("cursor=&limit=1")).json();
    return JSON.parse(Buffer.from(new URL(page.next, "http://x").searchParams.get("cursor")!, "base64url").toString("utf8"));
  };

  it("refuses filter values that are not valid with a 400 naming the parameter", async () => {
    const cases: [string, string][] = [
      ["user_id=not-a-uuid", "/user_id"],
      ["status=shipped", "/status/0"],
      ["status=created&status=Created", "/status/1"],
      ["created_after=yesterday", "/created_after"],
      ["created_after=2024-02-30T00:00:00Z", "/created_after"],
      ["created_before=2023-02-29T12:00:00Z", "/created_before"],
      ["created_after=2026-01-01T00:00:00", "/created_after"],
      ["created_after=0000-06-01T00:00:00Z", "/created_after"],
      ["created_before=2016-12-31T23:59:60Z", "/created_before"],
      ["created_after=2026-01-02T00:00:00Z&created_before=2026-01-01T00:00:00Z", "/created_before"],
      ["created_after=2026-01-01T00:00:00Z&created_before=2026-01-01T00:00:00.000Z", "/created_before"],
      ["status=created&offset=5", "/offset"],
      ["cursor=&offset=0", "/offset"],
    ];
    for (const [query, path] of cases) {
      const answer = await list(query);
      expect(answer.statusCode, `${query}: ${answer.body}`).toBe(400);
      expect(answer.headers["content-type"]).toMatch(/^application\/problem\+json/);
      const problem = answer.json();
      expect(problem, query).toMatchObject({ status: 400, code: "validation-failed", instance: "/api/order/" });
      expect(
        problem.errors.map((e: Json) => e.path),
        query,
      ).toContain(`/query${path}`);
    }
  });

  it("refuses a forged or foreign cursor with 400 invalid-cursor before any SQL, never a 500", async () => {
    const real = await cursorJson();
    expect(real).toMatchObject({ v: 1, d: "n", k: [expect.any(String), expect.any(Number)] });
    const forged = [
      "not-base64!",
      forge("not json"),
      forge("[1,2]"),
      forge("null"),
      forge({ ...real, v: 2 }),
      forge({ ...real, d: "x" }),
      forge({ ...real, f: 5 }),
      forge({ ...real, k: ["2024-02-30T00:00:00.000Z", 5] }),
      forge({ ...real, k: ["2024-02-29T24:00:00.000Z", 5] }),
      forge({ ...real, k: ["0000-01-01T00:00:00.000Z", 5] }),
      forge({ ...real, k: ["2026-03-01T00:00:00Z", 5] }),
      forge({ ...real, k: ["2026-03-01 00:00:00.000Z", 5] }),
      forge({ ...real, k: ["2026-03-01T00:00:00.000Z", 0] }),
      forge({ ...real, k: ["2026-03-01T00:00:00.000Z", 2_147_483_648] }),
      forge({ ...real, k: ["2026-03-01T00:00:00.000Z", 1.5] }),
      forge({ ...real, k: ["2026-03-01T00:00:00.000Z", "5"] }),
      forge({ ...real, k: ["2026-03-01T00:00:00.000Z", 5, 6] }),
      forge({ ...real, k: ["2026-03-01T00:00:00.000Z"] }),
      forge({ ...real, k: "2026-03-01T00:00:00.000Z" }),
      forge({ ...real, extra: true }),
    ];
    for (const cursor of forged) {
      const answer = await list(`cursor=${encodeURIComponent(cursor)}`);
      expect(answer.statusCode, `${cursor}: ${answer.body}`).toBe(400);
      const problem = answer.json();
      expect(problem.code).toBe("validation-failed");
      if (cursor === "not-base64!") continue; // refused by the parameter's pattern
      expect(problem.errors, Buffer.from(cursor, "base64url").toString()).toEqual([
        { path: "/query/cursor", code: "invalid-cursor", message: "is not a cursor from a next or previous link" },
      ]);
    }
    // Well formed, valid keys: a position anywhere is a page (empty past the oldest order).
    const anywhere = await list(`cursor=${forge({ ...real, k: ["2001-01-01T00:00:00.000Z", 1] })}`);
    expect(anywhere.statusCode).toBe(200);
    expect(anywhere.json()).toMatchObject({ count: placed.length, results: [], next: null });
    expect(anywhere.json().previous).toContain("cursor=");
  });

  it("refuses a cursor followed with another filter: 400 cursor-mismatch", async () => {
    const page = (await list("status=created&limit=1")).json();
    const cursor = new URL(page.next, "http://x").searchParams.get("cursor")!;
    for (const query of [`cursor=${cursor}`, `cursor=${cursor}&status=cancelled`, `cursor=${cursor}&status=created&user_id=${customers[0]!.id}`]) {
      const answer = await list(query);
      expect(answer.statusCode).toBe(400);
      expect(answer.json().errors).toEqual([expect.objectContaining({ path: "/query/cursor", code: "cursor-mismatch" })]);
    }
    // The same filter in another spelling is the same filter.
    expect((await list(`cursor=${cursor}&status=created&status=created`)).statusCode).toBe(200);
  });
});
