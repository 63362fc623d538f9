// Which products a list page holds is reused until the products change (src/catalogue/page-cache.ts),
// while every product on it is read afresh at each request. So an order's stock shows on the next
// list at once, with a new ETag; a product renamed, repriced or removed behind the service's back
// leaves the page it was on at the next request; a page is not read again while nothing it
// depends on changed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlRunner } from "../../src/infra/db/client.js";
import { ProductsRepository } from "../../src/catalogue/products-repository.js";
import { toProductBody } from "../../src/catalogue/handlers.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { assertMatchesSpec } from "../helpers/contract.js";
import { createProduct, viaApp } from "../helpers/factories.js";
import { send } from "../helpers/http-client.js";

interface Page {
  count: number;
  results: { id: number; name: string; price: string; stock: number }[];
}

type Product = Awaited<ReturnType<typeof createProduct>>;

let t: TestApp;
let admin: string;

beforeAll(async () => {
  t = await startTestApp();
  admin = await t.adminToken();
});
afterAll(() => t?.close());

const order = (token: string, id: number, quantity: number) =>
  t.request({ method: "POST", url: "/api/order/", token, payload: { products: [{ id, quantity }] } });

describe("a list page served again", () => {
  it("shows an order's stock at once, under a new ETag, to the buyer and to everyone else", async () => {
    const products: Product[] = [];
    for (const n of [1, 2, 3]) products.push(await createProduct(viaApp(t), admin, { name: `Cachedpage plum ${n}`, stock: 10 }));
    const [buyer, other] = [await t.createUser(), await t.createUser()];
    const path = "/api/product/?keyword=cachedpage&limit=5";
    const before = await t.request({ url: path, token: buyer.access });
    expect((before.json() as Page).results.map((p) => [p.id, p.stock])).toEqual(products.map((p) => [p.id, 10]));
    const oldTag = before.headers.etag as string;
    // Served again unchanged: the same tag, and a 304 for it.
    expect((await t.request({ url: path, token: other.access, headers: { "if-none-match": oldTag } })).statusCode).toBe(304);

    expect((await order(buyer.access, products[1]!.id, 3)).statusCode).toBe(201);

    for (const reader of [buyer, other]) {
      const after = await t.request({ url: path, token: reader.access, headers: { "if-none-match": oldTag } });
      expect(after.statusCode).toBe(200);
      expect((after.json() as Page).results.map((p) => [p.id, p.stock])).toEqual([
        [products[0]!.id, 10],
        [products[1]!.id, 7],
        [products[2]!.id, 10],
      ]);
      expect(after.headers.etag).not.toBe(oldTag);
      expect((await t.request({ url: path, token: reader.access, headers: { "if-none-match": after.headers.etag as string } })).statusCode).toBe(304);
    }
  });
});

describe("the page's products", () => {
  /** A repository on the test's database whose page statements (not its reads by id) are counted. */
  function countingRepository() {
    const pages = { run: 0 };
    const sql: SqlRunner = async (statement, values) => {
      if (statement.operation === "findMany") pages.run++;
      return t.database.query(statement, values);
    };
    return { pages, products: new ProductsRepository(t.database.prisma, sql, { wire: toProductBody }) };
  }
  const byPrice = { field: "price", descending: false } as const;
  const summary = (rows: readonly { id: number; name: string; stock: number }[]) => rows.map((r) => `${r.id} ${r.name} ${r.stock}`);

  it("are read by id while nothing that places them changed; a rename, reprice or removal reads the page again", async () => {
    const made: Product[] = [];
    for (const [n, price] of [
      [1, "1"],
      [2, "2"],
      [3, "3"],
    ] as const)
      made.push(await createProduct(viaApp(t), admin, { name: `Placedpage fig ${n}`, price, stock: 5 }));
    const [a, b, c] = made.map((p) => p.id) as [number, number, number];
    const { pages, products } = countingRepository();
    const filter = { keyword: "placedpage" };
    const read = async () => summary((await products.page(filter, byPrice, 5, 0)).rows);

    expect(await read()).toEqual([`${a} Placedpage fig 1 5`, `${b} Placedpage fig 2 5`, `${c} Placedpage fig 3 5`]);
    expect(await read()).toEqual([`${a} Placedpage fig 1 5`, `${b} Placedpage fig 2 5`, `${c} Placedpage fig 3 5`]);
    expect(pages.run).toBe(1);

    // Stock (an order, an adjustment) places no product: read by id, the page is not read again.
    await t.database.pool.query("UPDATE products SET stock = 4 WHERE id = $1", [b]);
    expect(await read()).toEqual([`${a} Placedpage fig 1 5`, `${b} Placedpage fig 2 4`, `${c} Placedpage fig 3 5`]);
    expect(pages.run).toBe(1);

    // Another process reprices a product (its notification not yet here): it moves at once.
    await t.database.pool.query("UPDATE products SET price = 9 WHERE id = $1", [a]);
    expect(await read()).toEqual([`${b} Placedpage fig 2 4`, `${c} Placedpage fig 3 5`, `${a} Placedpage fig 1 5`]);
    expect(pages.run).toBe(2);

    // … renames one out of the keyword: it leaves the page, and the count follows.
    await t.database.pool.query("UPDATE products SET name = 'Renamed fig', name_key = 'renamed fig' WHERE id = $1", [c]);
    expect(await read()).toEqual([`${b} Placedpage fig 2 4`, `${a} Placedpage fig 1 5`]);
    expect((await products.page(filter, byPrice, 5, 0)).count).toBe(2);

    // … removes one: gone at once.
    await t.database.pool.query("DELETE FROM products WHERE id = $1", [b]);
    expect(await read()).toEqual([`${a} Placedpage fig 1 5`]);
    const runs = pages.run;
    expect(await read()).toEqual([`${a} Placedpage fig 1 5`]);
    expect(pages.run).toBe(runs);

    // A product added behind its back joins the page when the notification drops the cache
    // (within the documented 5 s while the channel is down); a write through this process at once.
    const added = await createProduct(viaApp(t), admin, { name: "Placedpage fig 4", price: "4", stock: 1 });
    products.invalidateLists();
    expect(await read()).toEqual([`${added.id} Placedpage fig 4 1`, `${a} Placedpage fig 1 5`]);
  });

  it("asked for at once share one read, each answer the whole page", async () => {
    for (const n of [1, 2]) await createProduct(viaApp(t), admin, { name: `Sharedread lime ${n}`, price: String(n), stock: n });
    const { pages, products } = countingRepository();
    const read = () => products.page({ keyword: "sharedread" }, byPrice, 5, 0);
    const first = await Promise.all(Array.from({ length: 10 }, read));
    expect(pages.run).toBe(1);
    const again = await Promise.all(Array.from({ length: 10 }, read));
    expect(pages.run).toBe(1);
    for (const page of [...first, ...again]) {
      expect(page.count).toBe(2);
      expect(page.rows.map((r) => r.name)).toEqual(["Sharedread lime 1", "Sharedread lime 2"]);
    }
  });

  it("cursor pages too: the next page's rows are read by id, the link to it stays the same", async () => {
    const { pages, products } = countingRepository();
    const filter = { keyword: "cursorpage" };
    for (const n of [1, 2, 3]) await createProduct(viaApp(t), admin, { name: `Cursorpage kiwi ${n}`, price: String(n), stock: n });
    const first = await products.cursorPage(filter, byPrice, { offset: 0 }, 2);
    const again = await products.cursorPage(filter, byPrice, { offset: 0 }, 2);
    expect(pages.run).toBe(1);
    expect(summary(again.rows)).toEqual(summary(first.rows));
    expect(again.next).toEqual(first.next);
    const second = await products.cursorPage(filter, byPrice, { cursor: first.next! }, 2);
    expect(second.rows.map((r) => r.name)).toEqual(["Cursorpage kiwi 3"]);
    expect(pages.run).toBe(2);
  });
});

describe("many users at once over TCP", () => {
  const USERS = 10;
  const ROUNDS = 2;

  it("each sees its own orders' stock on the shared list right after placing them", async () => {
    const baseUrl = await t.app.listen({ host: "127.0.0.1", port: 0 });
    const users = await Promise.all(Array.from({ length: USERS }, () => t.createUser()));
    const own: Product[] = [];
    for (let u = 0; u < USERS; u++) own.push(await createProduct(viaApp(t), admin, { name: `Sharedlist pear ${u}`, stock: 100 }));
    const path = `/api/product/?keyword=sharedlist&limit=${USERS}`;
    const list = async (token: string) => {
      const answer = await send(baseUrl, { method: "GET", path, token });
      assertMatchesSpec("GET", path, answer);
      expect(answer.statusCode).toBe(200);
      return answer.json<Page>();
    };
    await Promise.all(
      users.map(async (user, u) => {
        const mine = own[u]!;
        for (let round = 1; round <= ROUNDS; round++) {
          const placed = await send(baseUrl, {
            method: "POST",
            path: "/api/order/",
            token: user.access,
            body: { products: [{ id: mine.id, quantity: u + 1 }] },
          });
          assertMatchesSpec("POST", "/api/order/", placed);
          expect(placed.statusCode).toBe(201);
          const page = await list(user.access);
          expect(page.count).toBe(USERS);
          expect(page.results.map((p) => p.id)).toEqual(own.map((p) => p.id));
          // Nobody else buys this product: its stock is exactly what this user's orders left.
          expect(page.results[u]).toMatchObject({ id: mine.id, name: mine.name, stock: 100 - round * (u + 1) });
          // Everyone else's: whole orders of theirs, however far they got.
          for (const [v, p] of page.results.entries()) {
            expect(p.stock).toBeGreaterThanOrEqual(100 - ROUNDS * (v + 1));
            expect((100 - p.stock) % (v + 1)).toBe(0);
          }
        }
      }),
    );
    const settled = await list(users[0]!.access);
    expect(settled.results.map((p) => p.stock)).toEqual(own.map((_, u) => 100 - ROUNDS * (u + 1)));
  }, 60_000);
});
