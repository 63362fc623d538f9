import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SqlRunner } from "../../src/infra/db/client.js";
import { Decimal } from "../../src/shared/money.js";
import { ProductsRepository } from "../../src/catalogue/products-repository.js";
import { toProductBody } from "../../src/catalogue/handlers.js";
import { normalizeName } from "../../src/shared/names.js";
import { startTestApp, type TestApp } from "../helpers/app.js";

let t: TestApp;
let admin: string;
let user: string;
beforeAll(async () => {
  t = await startTestApp();
  admin = await t.adminToken();
  user = (await t.createUser()).access;
});
afterAll(() => t.close());

const create = (payload: Record<string, unknown>, token = admin) => t.request({ method: "POST", url: "/api/product/", token, payload });

describe("writing products", () => {
  it("accepts the README's example body verbatim", async () => {
    const response = await t.request({
      method: "POST",
      url: "/api/product/",
      token: admin,
      headers: { "content-type": "application/json" },
      payload: `{
    "name": "RedBull",
    "price": "2.2",
    "stock": "100"
} `,
    });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toMatchObject({ id: expect.any(Number), name: "RedBull", price: "2.200", stock: 100 });
    expect(response.headers.location).toBe(`/api/product/${body.id}`);
  });

  it("accepts JSON numbers and keeps prices exact", async () => {
    const response = await create({ name: "Exact", price: 0.1, stock: 3 });
    expect(response.json().price).toBe("0.100");
    const big = await create({ name: "Big", price: "9999999.999", stock: 0 });
    expect(big.json().price).toBe("9999999.999");
    const row = await t.database.pool.query("SELECT price::text AS price FROM products WHERE id = $1", [big.json().id]);
    expect(row.rows[0].price).toBe("9999999.999");
  });

  it.each([
    [{ name: "P1", price: "-1", stock: 1 }, "/body/price"],
    [{ name: "P2", price: "1.2345", stock: 1 }, "/body/price"],
    [{ name: "P3", price: "12345678", stock: 1 }, "/body/price"],
    [{ name: "P4", price: 1.2345, stock: 1 }, "/body/price"],
    [{ name: "P5", price: "1", stock: -1 }, "/body/stock"],
    [{ name: "P6", price: "1", stock: 1.5 }, "/body/stock"],
    [{ name: "P7", price: "1", stock: "1e3" }, "/body/stock"],
    [{ name: "P8", price: "1", stock: "99999999999" }, "/body/stock"],
    [{ name: "P9", price: "1" }, "/body/stock"],
    [{ name: "   ", price: "1", stock: 1 }, "/body/name"],
  ])("refuses %j (%s)", async (payload, path) => {
    const before = await t.database.prisma.product.count();
    const response = await create(payload);
    expect(response.statusCode).toBe(400);
    expect(response.json().errors.map((e: { path: string }) => e.path)).toContain(path);
    expect(await t.database.prisma.product.count()).toBe(before);
  });

  it("keeps names unique regardless of case", async () => {
    await create({ name: "Club Mate", price: "1.5", stock: 1 });
    const response = await create({ name: "club mate", price: "1.5", stock: 1 });
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe("name-taken");
  });

  it("updates only the fields sent with PUT and PATCH", async () => {
    const { id } = (await create({ name: "Cola", price: "1.000", stock: 5 })).json();
    const put = await t.request({ method: "PUT", url: `/api/product/${id}`, token: admin, payload: { name: "Cola Zero" } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ name: "Cola Zero", price: "1.000", stock: 5 });
    const patch = await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, payload: { price: 1.25, stock: "7" } });
    expect(patch.json()).toMatchObject({ name: "Cola Zero", price: "1.250", stock: 7 });
    const empty = await t.request({ method: "PATCH", url: `/api/product/${id}`, token: admin, payload: {} });
    expect(empty.statusCode).toBe(400);
  });

  it("lets only admins write", async () => {
    const { id } = (await create({ name: "Guarded", price: "1", stock: 1 })).json();
    expect((await create({ name: "Nope", price: "1", stock: 1 }, user)).statusCode).toBe(403);
    expect((await t.request({ method: "PATCH", url: `/api/product/${id}`, token: user, payload: { stock: 0 } })).statusCode).toBe(403);
    expect((await t.request({ method: "PUT", url: `/api/product/${id}`, token: user, payload: { stock: 0 } })).statusCode).toBe(403);
    expect((await t.request({ method: "DELETE", url: `/api/product/${id}`, token: user })).statusCode).toBe(403);
    expect((await t.request({ url: `/api/product/${id}`, token: user })).json().stock).toBe(1);
  });

  // An unknown id (404) and a non-numeric one (400) are swept for every operation in contract-sweep.test.ts.
  it("answers 400 for an id that is not a positive integer", async () => {
    expect((await t.request({ url: "/api/product/1.5", token: user })).statusCode).toBe(400);
    expect((await t.request({ url: "/api/product/0", token: user })).statusCode).toBe(400);
  });

  it("removes a product from the catalogue without touching order history", async () => {
    const { id } = (await create({ name: "Short-lived", price: "4.40", stock: 10 })).json();
    const order = await t.request({ method: "POST", url: "/api/order/", token: user, payload: { products: [{ id, quantity: 2 }] } });
    expect(order.statusCode).toBe(201);
    const removed = await t.request({ method: "DELETE", url: `/api/product/${id}`, token: admin });
    expect(removed.statusCode).toBe(204);
    expect(removed.body).toBe("");
    expect((await t.request({ url: `/api/product/${id}`, token: user })).statusCode).toBe(404);
    const history = await t.request({ url: `/api/order/${order.json().id}`, token: user });
    expect(history.json().items).toEqual([{ product_id: id, name: "Short-lived", quantity: 2, unit_price: "4.400", line_total: "8.800" }]);
    const reorder = await t.request({ method: "POST", url: "/api/order/", token: user, payload: { products: [{ id, quantity: 1 }] } });
    expect(reorder.statusCode).toBe(400);
    expect(reorder.json().code).toBe("unknown-product");
  });
});

describe("listing products", () => {
  let listing: TestApp;
  let token: string;
  beforeAll(async () => {
    listing = await startTestApp({ ALLOWED_HOSTS: "shop.example:8000" });
    token = await listing.adminToken();
    const names = ["RedBull", "RedBull Purple", "yellow tea", "Yellow Lemonade", "Water 100%", "under_score"];
    for (let i = 0; i < 23; i++) {
      const name = names[i] ?? `Product ${String(i).padStart(2, "0")}`;
      await listing.request({ method: "POST", url: "/api/product/", token, payload: { name, price: `${(i % 7) + 0.5}`, stock: i } });
    }
  });
  afterAll(() => listing.close());
  const list = (query: string) => listing.request({ url: `/api/product/${query}`, token, headers: { host: "shop.example:8000" } });

  it("pages through 23 products with limit 5, each exactly once, in id order", async () => {
    const seen: number[] = [];
    let url: string | null = "?limit=5";
    let pages = 0;
    while (url) {
      const body: { results: { id: number }[]; next: string | null; count: number } = (await list(url)).json();
      expect(body.count).toBe(23);
      seen.push(...body.results.map((p) => p.id));
      url = body.next ? new URL(body.next).search : null;
      pages++;
    }
    expect(pages).toBe(5);
    expect(seen).toHaveLength(23);
    expect(new Set(seen).size).toBe(23);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });

  it("builds absolute next/previous links that keep the other parameters", async () => {
    const first = (await list("?keyword=product&limit=5")).json();
    expect(first.previous).toBeNull();
    expect(first.next).toBe("http://shop.example:8000/api/product/?keyword=product&limit=5&offset=5");
    const second = (await list("?keyword=product&limit=5&offset=5")).json();
    expect(second.previous).toBe("http://shop.example:8000/api/product/?keyword=product&limit=5");
    const last = (await list("?keyword=product&limit=5&offset=15")).json();
    expect(last.next).toBeNull();
    expect(last.results).toHaveLength(2);
  });

  it("defaults to 5 per page", async () => {
    expect((await list("")).json().results).toHaveLength(5);
  });

  it("filters by keyword anywhere in the name, ignoring case", async () => {
    const names = (await list("?keyword=redbull&limit=100")).json().results.map((p: { name: string }) => p.name);
    expect(names).toEqual(["RedBull", "RedBull Purple"]);
    const yellow = (await list("?keyword=YELLOW&limit=100")).json().results.map((p: { name: string }) => p.name);
    expect(yellow).toEqual(["yellow tea", "Yellow Lemonade"]);
  });

  it("treats % and _ in a keyword as text, not wildcards", async () => {
    expect((await list("?keyword=%25&limit=100")).json().results.map((p: { name: string }) => p.name)).toEqual(["Water 100%"]);
    expect((await list("?keyword=_&limit=100")).json().results.map((p: { name: string }) => p.name)).toEqual(["under_score"]);
  });

  it("filters by max_price inclusively and combines with keyword", async () => {
    const cheap = (await list("?max_price=1.5&limit=100")).json();
    expect(cheap.results.length).toBeGreaterThan(0);
    for (const product of cheap.results) expect(Number(product.price)).toBeLessThanOrEqual(1.5);
    expect(cheap.results.some((p: { price: string }) => p.price === "1.500")).toBe(true);
    // RedBull costs 0.500, RedBull Purple 1.500.
    const both = (await list("?max_price=1.499&keyword=red&limit=100")).json();
    expect(both.results.map((p: { name: string }) => p.name)).toEqual(["RedBull"]);
  });

  it.each(["limit=-1", "limit=abc", "limit=101", "limit=1.5", "offset=-5", "offset=x", "max_price=abc", "max_price=1e3", "max_price=-1"])(
    "refuses %s with a 400 problem",
    async (query) => {
      const response = await list(`?${query}`);
      expect(response.statusCode).toBe(400);
      expect(response.json().errors[0].path).toMatch(/^\/query\//);
    },
  );

  it("needs a signed-in user", async () => {
    expect((await listing.request({ url: "/api/product/" })).statusCode).toBe(401);
  });
});

describe("filtered counts under concurrent writes", () => {
  // The race needs a count still running when a write lands: the repository is given a query
  // runner that holds counts until the test lets them go.
  it("answers a count that was running during a write, and counts the write afterwards", async () => {
    const db = await startTestApp();
    try {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const slowCounts: SqlRunner = async (statement, values) => {
        if (statement.operation === "count") await held;
        return db.database.query(statement, values);
      };
      const products = new ProductsRepository(db.database.prisma, slowCounts, { wire: toProductBody });
      const page = products.page({ keyword: "race" }, { field: "id", descending: false }, 5, 0);
      await products.create({ name: normalizeName("Race Car"), price: new Decimal("1"), stock: 1 });
      release();
      await expect(page).resolves.toMatchObject({ count: expect.any(Number) });
      expect((await products.page({ keyword: "race" }, { field: "id", descending: false }, 5, 0)).count).toBe(1);
    } finally {
      await db.close();
    }
  }, 60_000); // starts an app of its own: most of the default 20 s on a busy machine
});
