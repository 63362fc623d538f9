// Conditional requests on products (issues 16.2 and 17.2): ETag, If-None-Match → 304, If-Match →
// 412, and stock_delta; the lost-update race over real TCP with concurrent orders.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";
import { assertMatchesSpec } from "../helpers/contract.js";
import { send, type Call, type HttpAnswer } from "../helpers/http-client.js";

let t: TestApp;
let admin: string;
let user: string;
let baseUrl: string;
const buyers: string[] = [];

beforeAll(async () => {
  t = await startTestApp({ DB_POOL_MAX: 10 });
  admin = await t.adminToken();
  user = (await t.createUser()).access;
  for (let i = 0; i < 4; i++) buyers.push((await t.createUser()).access);
  baseUrl = await t.app.listen({ host: "127.0.0.1", port: 0 });
});
afterAll(() => t.close());

/** A request over TCP, checked against the spec like every other answer. */
async function call(request: Call): Promise<HttpAnswer> {
  const answer = await send(baseUrl, request);
  assertMatchesSpec(request.method, request.path, answer);
  return answer;
}

let names = 0;
async function product(stock: number, price = "1.5"): Promise<{ id: number; etag: string }> {
  const { id } = await createProduct(viaApp(t), admin, { name: `Conditional ${++names}`, price, stock });
  return { id, etag: await etagOf(id) };
}
async function etagOf(id: number): Promise<string> {
  const read = await t.request({ url: `/api/product/${id}`, token: user });
  expect(read.statusCode).toBe(200);
  return String(read.headers.etag);
}
const stockOf = async (id: number) => (await t.database.prisma.product.findUniqueOrThrow({ where: { id } })).stock;
const order = (id: number, quantity: number, token = user) =>
  t.request({ method: "POST", url: "/api/order/", token, payload: { products: [{ id, quantity }] } });

describe("conditional reads", () => {
  it("tags a product, asks clients to revalidate, and answers 304 with no body while it is unchanged", async () => {
    const { id, etag } = await product(5);
    expect(etag).toMatch(/^"\d+-\d+"$/);
    const read = await t.request({ url: `/api/product/${id}`, token: user });
    expect(read.headers["cache-control"]).toBe("private, no-cache");
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const again = await t.request({ url: `/api/product/${id}`, token: user, headers: { "if-none-match": ifNoneMatch } });
      expect(again.statusCode, ifNoneMatch).toBe(304);
      expect(again.body).toBe("");
      expect(again.headers.etag).toBe(etag);
      expect(again.headers["cache-control"]).toBe("private, no-cache");
    }
    for (const stale of ['"0-0"', `"${id}-999"`, "garbage", '""']) {
      const full = await t.request({ url: `/api/product/${id}`, token: user, headers: { "if-none-match": stale } });
      expect(full.statusCode, stale).toBe(200);
      expect(full.json()).toMatchObject({ id, stock: 5 });
    }
    // Over TCP as well: a 304 carries no body on the wire.
    const overTcp = await call({ method: "GET", path: `/api/product/${id}`, token: user, headers: { "if-none-match": etag } });
    expect(overTcp.statusCode).toBe(304);
    expect(overTcp.body).toBe("");
  });

  it("moves the tag on with every kind of write: PUT, PATCH, stock_delta, an order, plain SQL", async () => {
    const { id, etag } = await product(50);
    const tags = [etag];
    const expectNewTag = async (what: string) => {
      const tag = await etagOf(id);
      expect(tags, what).not.toContain(tag);
      const revalidated = await t.request({ url: `/api/product/${id}`, token: user, headers: { "if-none-match": tags.at(-1)! } });
      expect(revalidated.statusCode, what).toBe(200);
      tags.push(tag);
    };
    const put = await t.request({ method: "PUT", url: `/api/product/${id}`, token: admin, payload: { price: "2" } });
    expect(put.headers.etag).not.toBe(etag);
    await expectNewTag("PUT");
    expect(put.headers.etag).toBe(tags.at(-1));
    await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, payload: { name: `Renamed ${id}` } });
    await expectNewTag("PATCH");
    await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, payload: { stock_delta: 3 } });
    await expectNewTag("stock_delta");
    expect((await order(id, 2)).statusCode).toBe(201);
    await expectNewTag("order");
    // Any statement, whoever runs it (a cancel returning stock, a script): the trigger moves it on.
    await t.database.pool.query("UPDATE products SET stock = stock + 1 WHERE id = $1", [id]);
    await expectNewTag("SQL");
    expect(await stockOf(id)).toBe(52);
  });

  it("tags list pages, answers 304 while a page is unchanged, and a new tag when a product on it changes", async () => {
    await product(1);
    await product(1);
    const { id } = await product(7, "3.333");
    const url = "/api/product/?keyword=conditional&ordering=-id&limit=2";
    const first = await t.request({ url, token: user });
    expect(first.statusCode).toBe(200);
    expect(first.headers["cache-control"]).toBe("private, no-cache");
    const etag = String(first.headers.etag);
    const unchanged = await t.request({ url, token: user, headers: { "if-none-match": etag } });
    expect(unchanged.statusCode).toBe(304);
    expect(unchanged.body).toBe("");
    expect(unchanged.headers.etag).toBe(etag);
    // The same page for another client is the same page.
    expect((await t.request({ url, token: admin, headers: { "if-none-match": etag } })).statusCode).toBe(304);
    // The same products with other links (cursor instead of offset) are another page, another tag.
    const cursorPage = await t.request({ url: `${url}&cursor=`, token: user, headers: { "if-none-match": etag } });
    expect(cursorPage.statusCode).toBe(200);
    expect(cursorPage.headers.etag).not.toBe(etag);

    expect((await order(id, 1)).statusCode).toBe(201);
    const afterOrder = await t.request({ url, token: user, headers: { "if-none-match": etag } });
    expect(afterOrder.statusCode).toBe(200);
    expect(afterOrder.json().results[0]).toMatchObject({ id, stock: 6 });
    expect(afterOrder.headers.etag).not.toBe(etag);
  });
});

describe("conditional writes", () => {
  it("writes with a current If-Match, and answers 412 and changes nothing with a stale one", async () => {
    const { id, etag } = await product(50);
    expect((await order(id, 10)).statusCode).toBe(201);
    // The admin read 50 before the order and means "add ten": with the tag it read, refused.
    const stale = await t.request({ method: "PUT", url: `/api/product/${id}`, token: admin, headers: { "if-match": etag }, payload: { stock: 60 } });
    expect(stale.statusCode).toBe(412);
    expect(stale.json()).toMatchObject({ code: "precondition-failed", status: 412 });
    expect(await stockOf(id)).toBe(40);
    // Read again, write again: the tag of the read it made.
    const current = await etagOf(id);
    const fresh = await t.request({ method: "PUT", url: `/api/product/${id}`, token: admin, headers: { "if-match": current }, payload: { stock: 50 } });
    expect(fresh.statusCode).toBe(200);
    expect(fresh.json().stock).toBe(50);
    expect(fresh.headers.etag).not.toBe(current);
    // Tags are compared strongly: a weak tag, another product's tag or garbage never match.
    const version = /-(\d+)"$/.exec(String(fresh.headers.etag))![1];
    for (const ifMatch of [`W/${fresh.headers.etag}`, `"${id + 1000}-${version}"`, `"0${id}-${version}"`, `"${id}-0${version}"`, "nonsense", '""']) {
      const refused = await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, headers: { "if-match": ifMatch }, payload: { stock: 1 } });
      expect(refused.statusCode, ifMatch).toBe(412);
    }
    // Any of several tags, or *, matches the current one.
    const listed = await t.request({
      method: "PATCH",
      url: `/api/product/${id}`,
      token: admin,
      headers: { "if-match": `"${id}-1", ${fresh.headers.etag}` },
      payload: { price: "9" },
    });
    expect(listed.statusCode).toBe(200);
    const star = await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, headers: { "if-match": "*" }, payload: { price: "8" } });
    expect(star.statusCode).toBe(200);
    expect(await stockOf(id)).toBe(50);
    // Without If-Match the write is unconditional, as for the reference's clients.
    expect((await t.request({ method: "PUT", url: `/api/product/${id}`, token: admin, payload: { stock: 51 } })).statusCode).toBe(200);
  });

  it("deletes only the version the admin read; 404 before 412 for a product that is gone", async () => {
    const { id, etag } = await product(3);
    await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, payload: { stock_delta: 1 } });
    const stale = await t.request({ method: "DELETE", url: `/api/product/${id}`, token: admin, headers: { "if-match": etag } });
    expect(stale.statusCode).toBe(412);
    expect(await stockOf(id)).toBe(4);
    const removed = await t.request({ method: "DELETE", url: `/api/product/${id}`, token: admin, headers: { "if-match": await etagOf(id) } });
    expect(removed.statusCode).toBe(204);
    expect((await t.request({ method: "DELETE", url: `/api/product/${id}`, token: admin, headers: { "if-match": "*" } })).statusCode).toBe(404);
    expect((await t.request({ method: "PUT", url: `/api/product/${id}`, token: admin, headers: { "if-match": etag }, payload: { stock: 1 } })).statusCode).toBe(
      404,
    );
  });

  it("refuses a rename to a taken name (400) through the conditional write as well", async () => {
    const [a, b] = [await product(1), await product(1)];
    const aName: string = (await t.request({ url: `/api/product/${a.id}`, token: user })).json().name;
    const taken = await t.request({
      method: "PATCH",
      url: `/api/product/${b.id}`,
      token: admin,
      headers: { "if-match": b.etag },
      payload: { name: aName.toLowerCase() },
    });
    expect(taken.statusCode).toBe(400);
    expect(taken.json().code).toBe("name-taken");
    expect(await etagOf(b.id)).toBe(b.etag);
  });
});

describe("stock_delta", () => {
  it("adds and removes units, never below 0 (409, nothing changed), never with stock (400)", async () => {
    const { id } = await product(2);
    const added = await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, payload: { stock_delta: 10, price: "4" } });
    expect(added.statusCode).toBe(200);
    expect(added.json()).toMatchObject({ stock: 12, price: "4.000" });
    const removed = await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, payload: { stock_delta: -12 } });
    expect(removed.json().stock).toBe(0);
    const etag = await etagOf(id);
    const negative = await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, payload: { stock_delta: -1, price: "5" } });
    expect(negative.statusCode).toBe(409);
    expect(negative.json()).toMatchObject({ code: "stock-out-of-range", errors: [{ path: "/body/stock_delta", product_id: id, requested: -1, available: 0 }] });
    await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, payload: { stock: 2_147_483_000 } });
    const overflow = await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, payload: { stock_delta: 2_147_483_647 } });
    expect(overflow.statusCode).toBe(409);
    expect(await stockOf(id)).toBe(2_147_483_000);
    const both = await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, payload: { stock: 1, stock_delta: 1 } });
    expect(both.statusCode).toBe(400);
    expect(both.json().errors[0].path).toBe("/body/stock_delta");
    for (const payload of [{ stock_delta: 1.5 }, { stock_delta: "1" }, { stock_delta: 2_147_483_648 }]) {
      expect((await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, payload })).statusCode, JSON.stringify(payload)).toBe(400);
    }
    // PUT sets absolute values only.
    expect((await t.request({ method: "PUT", url: `/api/product/${id}`, token: admin, payload: { stock_delta: 1 } })).statusCode).toBe(400);
    expect((await t.request({ method: "PATCH", url: `/api/product/${id}`, token: user, payload: { stock_delta: 1 } })).statusCode).toBe(403);
    const product_ = await t.request({ url: `/api/product/${id}`, token: user });
    expect(product_.json()).toMatchObject({ stock: 2_147_483_000, price: "4.000" });
    expect(String(product_.headers.etag)).not.toBe(etag); // the absolute write moved it; the refusals did not
    expect((await t.request({ method: "PATCH", url: "/api/product/999999", token: admin, payload: { stock_delta: 1 } })).statusCode).toBe(404);
  });
});

describe("under concurrency, over TCP", () => {
  it("an admin's read-modify-write with If-Match never creates units from nowhere while orders take stock", async () => {
    const initial = 100;
    const { id } = await product(initial);
    const restock = async (): Promise<{ writes: number; refused: number }> => {
      let refused = 0;
      for (;;) {
        const read = await call({ method: "GET", path: `/api/product/${id}`, token: admin });
        const seen = read.json().stock;
        const put = await call({
          method: "PUT",
          path: `/api/product/${id}`,
          token: admin,
          headers: { "if-match": String(read.headers.etag) },
          body: { stock: seen + 10 },
        });
        if (put.statusCode === 200) return { writes: 1, refused };
        expect(put.statusCode, put.body).toBe(412);
        refused++;
      }
    };
    const buy = (i: number) => call({ method: "POST", path: "/api/order/", token: buyers[i % buyers.length]!, body: { products: [{ id, quantity: 1 }] } });
    const [restocks, orders] = await Promise.all([Promise.all(Array.from({ length: 5 }, restock)), Promise.all(Array.from({ length: 40 }, (_, i) => buy(i)))]);
    expect(
      orders.map((o) => o.statusCode),
      orders
        .filter((o) => o.statusCode !== 201)
        .map((o) => o.body)
        .join("\n"),
    ).toEqual(Array(40).fill(201));
    const sold = orders.length;
    // Every PUT added exactly ten to what its writer had read, so nothing was lost or invented.
    expect(await stockOf(id)).toBe(initial + 10 * restocks.length - sold);
    console.log(`read-modify-write under orders: ${restocks.reduce((sum, r) => sum + r.refused, 0)} stale writes refused with 412`);
  });

  it("stock_delta adds exactly to whatever the orders left", async () => {
    const initial = 100;
    const { id } = await product(initial);
    const deltas = [...Array(10).fill(5), ...Array(6).fill(-3)];
    const answers = await Promise.all([
      ...deltas.map((stock_delta) => call({ method: "PATCH", path: `/api/product/${id}`, token: admin, body: { stock_delta } })),
      ...Array.from({ length: 40 }, (_, i) =>
        call({ method: "POST", path: "/api/order/", token: buyers[i % buyers.length]!, body: { products: [{ id, quantity: 1 }] } }),
      ),
    ]);
    expect(
      answers.map((a) => a.statusCode),
      answers
        .filter((a) => a.statusCode >= 300)
        .map((a) => a.body)
        .join("\n"),
    ).toEqual([...Array(deltas.length).fill(200), ...Array(40).fill(201)]);
    expect(await stockOf(id)).toBe(initial + 10 * 5 - 6 * 3 - 40);
  });

  it("a removal racing orders for the last units: one side is refused, stock never goes below 0", async () => {
    const { id } = await product(10);
    const answers = await Promise.all([
      call({ method: "PATCH", path: `/api/product/${id}`, token: admin, body: { stock_delta: -6 } }),
      ...Array.from({ length: 8 }, (_, i) =>
        call({ method: "POST", path: "/api/order/", token: buyers[i % buyers.length]!, body: { products: [{ id, quantity: 1 }] } }),
      ),
    ]);
    const [removal, ...orders] = answers;
    const sold = orders.filter((o) => o.statusCode === 201).length;
    for (const o of orders) expect([201, 400]).toContain(o.statusCode);
    expect([200, 409]).toContain(removal!.statusCode);
    const removed = removal!.statusCode === 200 ? 6 : 0;
    expect(await stockOf(id)).toBe(10 - removed - sold);
    expect(await stockOf(id)).toBeGreaterThanOrEqual(0);
  });
});
