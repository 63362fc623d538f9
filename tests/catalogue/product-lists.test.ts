// Sorting, bounds and cursor pages of GET /api/product/ (issues 16.4, 16.5, 17.1), on one shared
// catalogue with many ties: prices from a few values, creation times shared by whole batches.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";

interface Row {
  id: number;
  name_key: string;
  price: string;
  created_at: string;
}
interface Page {
  count: number;
  next: string | null;
  previous: string | null;
  results: { id: number; name: string; price: string; created_at: string }[];
}

const ORDERINGS = ["id", "-id", "name", "-name", "price", "-price", "created_at", "-created_at"] as const;
const FILTERS: Record<string, string> = {
  none: "",
  keyword: "keyword=tea",
  "price range": "min_price=2.5&max_price=7",
  "keyword and range": "keyword=TEA&min_price=1&max_price=2.5",
};

let t: TestApp;
let token: string;
let catalogue: Row[];

beforeAll(async () => {
  t = await startTestApp();
  token = await t.adminToken();
  // Names are lowercase letters and digits, so every collation sorts them alike; a third contain
  // "tea". Prices come from five values and creation times from four, so both tie often.
  const prices = ["1.000", "2.500", "2.500", "7.000", "9.990"];
  for (let batch = 0; batch < 4; batch++) {
    await t.database.pool.query(
      `INSERT INTO products (name, name_key, price, stock, created_at, updated_at)
       SELECT n, n, (($2::text[])[1 + (g * 7 + $1) % 5])::numeric, g, $3::timestamptz, now()
       FROM generate_series(1, 11) AS g, LATERAL (SELECT (ARRAY['tea', 'cola', 'mate'])[1 + (g + $1) % 3] || 'x' || lpad((g * 37 + $1 * 11) % 100 || '', 2, '0') || 'b' || $1 AS n) AS named`,
      [batch, prices, `2026-01-0${1 + (batch % 2)}T10:00:00.000Z`],
    );
  }
  // A few through the API too (creation times of their own).
  // Prices of two digits too: sorting them as text would put 12.5 before 2.5.
  for (const [name, price] of [
    ["greentea", "2.5"],
    ["icedteab", "12.5"],
    ["water", "2.5"],
    ["teapot", "100"],
  ] as const) {
    await createProduct(viaApp(t), token, { name, price, stock: 1 });
  }
  const { rows } = await t.database.pool.query<Row>(`SELECT id, name_key, price::text AS price, created_at FROM products`);
  catalogue = rows.map((r) => ({ ...r, created_at: new Date(r.created_at).toISOString() }));
});
afterAll(() => t.close());

const list = async (query: string): Promise<Page> => {
  const response = await t.request({ url: `/api/product/?${query}`, token });
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
};
const queryOf = (link: string) => link.slice(link.indexOf("?") + 1);

/** The ids the list should show, computed here from the rows: filter, then sort with id tiebreaks. */
function expected(ordering: string, filter: string): number[] {
  const params = new URLSearchParams(filter);
  const keyword = params.get("keyword")?.toLowerCase();
  const min = params.get("min_price");
  const max = params.get("max_price");
  const rows = catalogue.filter(
    (r) => (!keyword || r.name_key.includes(keyword)) && (min === null || Number(r.price) >= Number(min)) && (max === null || Number(r.price) <= Number(max)),
  );
  const field = ordering.replace(/^-/, "") as "id" | "name" | "price" | "created_at";
  const sign = ordering.startsWith("-") ? -1 : 1;
  const compare = (a: Row, b: Row): number => {
    const primary =
      field === "price"
        ? Number(a.price) - Number(b.price)
        : field === "name"
          ? a.name_key < b.name_key
            ? -1
            : a.name_key > b.name_key
              ? 1
              : 0
          : field === "created_at"
            ? Date.parse(a.created_at) - Date.parse(b.created_at)
            : 0;
    return sign * (primary || a.id - b.id);
  };
  return rows.sort(compare).map((r) => r.id);
}

/** Follows `next` from a first cursor page, then `previous` back from the last page. */
async function walk(query: string): Promise<{ forward: number[]; backward: number[]; pages: number; counts: Set<number> }> {
  const forward: number[] = [];
  const counts = new Set<number>();
  let page = await list(`${query}&cursor=`);
  let pages = 1;
  forward.push(...page.results.map((p) => p.id));
  counts.add(page.count);
  expect(page.previous).toBeNull();
  while (page.next) {
    expect(page.next).toContain("cursor=");
    expect(page.next).not.toContain("offset=");
    page = await list(queryOf(page.next));
    forward.push(...page.results.map((p) => p.id));
    counts.add(page.count);
    if (++pages > 50) throw new Error("the walk does not end");
  }
  const backward: number[] = [...page.results.map((p) => p.id)].reverse();
  while (page.previous) {
    page = await list(queryOf(page.previous));
    backward.push(...[...page.results].reverse().map((p) => p.id));
    if (++pages > 100) throw new Error("the walk back does not end");
  }
  return { forward, backward, pages, counts };
}

describe("ordering and bounds", () => {
  it.each(ORDERINGS)("pages by offset in %s order, ties broken by id", async (ordering) => {
    const seen: number[] = [];
    for (let offset = 0; offset < catalogue.length; offset += 9)
      seen.push(...(await list(`ordering=${ordering}&limit=9&offset=${offset}`)).results.map((p) => p.id));
    expect(seen).toEqual(expected(ordering, ""));
  });

  it("keeps offset links for offset requests, with the ordering and bounds in them", async () => {
    const page = await list("ordering=-price&min_price=2.5&limit=4");
    expect(page.next).toMatch(/^(http:\/\/[^/]+)?\/api\/product\/\?ordering=-price&min_price=2\.5&limit=4&offset=4$/);
    expect(page.results.map((p) => p.id)).toEqual(expected("-price", "min_price=2.5").slice(0, 4));
  });

  it("bounds prices inclusively at both ends, with the keyword", async () => {
    const page = await list("min_price=2.500&max_price=7&limit=100");
    expect(page.results.map((p) => p.price).sort()).toEqual(expect.arrayContaining(["2.500", "7.000"]));
    expect(page.results.map((p) => p.id)).toEqual(expected("id", "min_price=2.5&max_price=7"));
    expect(page.count).toBe(page.results.length);
    const combined = await list("keyword=tea&min_price=2.5&limit=100");
    expect(combined.results.map((p) => p.id)).toEqual(expected("id", "keyword=tea&min_price=2.5"));
    expect(combined.results.length).toBeGreaterThan(0);
    expect((await list("min_price=8&max_price=2")).count).toBe(0);
  });

  it("refuses an unknown ordering and a bad min_price with 400 problems", async () => {
    for (const query of ["ordering=stock", "ordering=--price", "ordering=", "min_price=-1", "min_price=abc"]) {
      const response = await t.request({ url: `/api/product/?${query}`, token });
      expect(response.statusCode, query).toBe(400);
      expect(response.json().errors[0].path).toMatch(/^\/query\/(ordering|min_price)/);
    }
  });
});

describe("keywords, the deprecated spelling of keyword", () => {
  it("filters like keyword, alone or with the same value", async () => {
    const byKeyword = await list("keyword=tea&limit=100");
    expect(byKeyword.count).toBeGreaterThan(0);
    expect((await list("keywords=tea&limit=100")).results).toEqual(byKeyword.results);
    expect((await list("keyword=tea&keywords=tea&limit=100")).results).toEqual(byKeyword.results);
  });

  it("refuses both with different values, naming keywords", async () => {
    const response = await t.request({ url: "/api/product/?keyword=tea&keywords=cola", token });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: "validation-failed", errors: [{ path: "/query/keywords", code: "conflicts-with-keyword" }] });
  });
});

describe("cursor pages", () => {
  for (const [filterName, filter] of Object.entries(FILTERS)) {
    it.each(ORDERINGS)(`walk every page forward and back in %s order (filter: ${filterName})`, async (ordering) => {
      const want = expected(ordering, filter);
      expect(want.length).toBeGreaterThan(filter ? 3 : 40);
      const { forward, backward, counts } = await walk(`ordering=${ordering}&limit=4${filter ? `&${filter}` : ""}`);
      expect(forward).toEqual(want);
      expect(backward).toEqual([...want].reverse());
      expect([...counts]).toEqual([want.length]);
    });
  }

  it("starts a cursor walk at an offset, and keeps the first page's answer otherwise as it was", async () => {
    const want = expected("price", "");
    const page = await list("ordering=price&limit=5&offset=10&cursor=");
    expect(page.results.map((p) => p.id)).toEqual(want.slice(10, 15));
    const next = await list(queryOf(page.next!));
    expect(next.results.map((p) => p.id)).toEqual(want.slice(15, 20));
    const previous = await list(queryOf(page.previous!));
    expect(previous.results.map((p) => p.id)).toEqual(want.slice(5, 10));
  });

  it("never repeats or skips a product while products are added and removed during the walk", async () => {
    const extra = await t.database.pool.query<{ id: number }>(
      `INSERT INTO products (name, name_key, price, stock, updated_at) SELECT n, n, 3.000 + g, 1, now()
       FROM generate_series(1, 20) AS g, LATERAL (SELECT 'walker' || lpad(g || '', 2, '0') AS n) AS named RETURNING id`,
    );
    const walkers = extra.rows.map((r) => r.id);
    const seen: number[] = [];
    let page = await list("ordering=price&keyword=walker&limit=3&cursor=");
    let step = 0;
    const removed: number[] = [];
    while (true) {
      seen.push(...page.results.map((p) => p.id));
      // Between pages: remove a product not reached yet and add one below the cursor (already passed).
      const ahead = walkers.filter((id) => !seen.includes(id) && !removed.includes(id));
      if (ahead.length > 1) {
        removed.push(ahead.at(-1)!);
        await t.database.pool.query("DELETE FROM products WHERE id = $1", [ahead.at(-1)]);
      }
      await t.database.pool.query("INSERT INTO products (name, name_key, price, stock, updated_at) VALUES ($1, $1, 0.5, 1, now())", [`walkerlate${step++}`]);
      if (!page.next) break;
      page = await list(queryOf(page.next));
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(walkers.filter((id) => !removed.includes(id)));
    await t.database.pool.query("DELETE FROM products WHERE name_key LIKE 'walker%'");
  });

  it("links an emptied page back to the end it came from", async () => {
    const { rows } = await t.database.pool.query<{ id: number }>(
      `INSERT INTO products (name, name_key, price, stock, updated_at) SELECT n, n, 5, 1, now()
       FROM generate_series(1, 6) AS g, LATERAL (SELECT 'emptied' || g AS n) AS named RETURNING id`,
    );
    const first = await list("keyword=emptied&limit=3&cursor=");
    await t.database.pool.query("DELETE FROM products WHERE id = ANY($1)", [rows.slice(3).map((r) => r.id)]);
    const empty = await list(queryOf(first.next!));
    expect(empty.results).toEqual([]);
    expect(empty.next).toBeNull();
    const back = await list(queryOf(empty.previous!));
    expect(back.results.map((p) => p.id)).toEqual(rows.slice(0, 3).map((r) => r.id));
    await t.database.pool.query("DELETE FROM products WHERE name_key LIKE 'emptied%'");
  });

  it("refuses a cursor used with another filter or ordering (400, cursor-mismatch)", async () => {
    const page = await list("ordering=price&keyword=tea&min_price=1&limit=2&cursor=");
    const cursor = new URLSearchParams(queryOf(page.next!)).get("cursor")!;
    // The same filter written differently is the same filter.
    expect((await t.request({ url: `/api/product/?ordering=price&keywords=tea&min_price=1.00&limit=2&cursor=${cursor}`, token })).statusCode).toBe(200);
    for (const changed of [
      "ordering=-price&keyword=tea&min_price=1",
      "ordering=price&keyword=te&min_price=1",
      "ordering=price&keyword=tea",
      "ordering=price&keyword=tea&min_price=1&max_price=9",
      "keyword=tea&min_price=1",
    ]) {
      const response = await t.request({ url: `/api/product/?${changed}&limit=2&cursor=${cursor}`, token });
      expect(response.statusCode, changed).toBe(400);
      expect(response.json()).toMatchObject({ code: "validation-failed", errors: [{ path: "/query/cursor", code: "cursor-mismatch" }] });
    }
  });

  it("finding 6: refuses a cursor with an impossible date key with 400 invalid-cursor, never a 500", async () => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const page = await list("ordering=created_at&limit=2&cursor=");
    const good = JSON.parse(Buffer.from(new URLSearchParams(queryOf(page.next!)).get("cursor")!, "base64url").toString());
    const [, id] = good.k;
    // Before: Date.parse accepted these and PostgreSQL refused them: 500.
    for (const date of [
      "2024-02-30T00:00:00.000Z",
      "2023-02-29T12:00:00.000Z",
      "0000-01-01T00:00:00.000Z",
      "2024-04-31T00:00:00.000Z",
      "2024-01-01T24:00:00.000Z",
    ]) {
      const response = await t.request({ url: `/api/product/?ordering=created_at&limit=2&cursor=${b64({ ...good, k: [date, id] })}`, token });
      expect(response.statusCode, date).toBe(400);
      expect(response.json().errors[0], date).toMatchObject({ path: "/query/cursor", code: "invalid-cursor" });
    }
    // A real date on the edge of what is allowed is a valid key: 200.
    const leap = await t.request({ url: `/api/product/?ordering=created_at&limit=2&cursor=${b64({ ...good, k: ["2024-02-29T23:59:59.999Z", id] })}`, token });
    expect(leap.statusCode).toBe(200);
  });

  it("refuses a garbled cursor, and a cursor with an offset, with 400 problems", async () => {
    const b64 = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
    const page = await list("ordering=price&limit=2&cursor=");
    const good = JSON.parse(Buffer.from(new URLSearchParams(queryOf(page.next!)).get("cursor")!, "base64url").toString());
    const garbled = [
      "abc",
      "A",
      b64("null"),
      b64("[1]"),
      b64("not json"),
      b64({ ...good, v: 2 }),
      b64({ ...good, d: "x" }),
      b64({ ...good, k: ["1e400", 1] }),
      b64({ ...good, k: ["2.5", 0] }),
      b64({ ...good, k: ["2.5", 2147483648] }),
      b64({ ...good, k: ["2.5"] }),
      b64({ ...good, o: "stock" }),
      b64({ ...good, o: "name", k: ["a\u0000b"] }),
      b64({ ...good, o: "created_at", k: ["yesterday", 1] }),
    ];
    for (const cursor of garbled) {
      const response = await t.request({ url: `/api/product/?ordering=price&limit=2&cursor=${cursor}`, token });
      expect(response.statusCode, cursor).toBe(400);
      expect(response.json().errors[0], cursor).toMatchObject({ path: "/query/cursor", code: "invalid-cursor" });
    }
    // Dates JavaScript's Date.parse reads (2024-02-30 as March 1st) but PostgreSQL refuses: a 400, never a 500.
    for (const at of ["2024-02-30T00:00:00.000Z", "2023-02-29T00:00:00.000Z", "0000-01-01T00:00:00.000Z"]) {
      const cursor = b64({ ...good, o: "created_at", k: [at, 1] });
      const response = await t.request({ url: `/api/product/?ordering=created_at&limit=2&cursor=${cursor}`, token });
      expect(response.statusCode, at).toBe(400);
      expect(response.json().errors[0], at).toMatchObject({ path: "/query/cursor", code: "invalid-cursor" });
    }
    for (const bad of ["%2B%2F", "a.b", "x".repeat(1025)]) {
      const response = await t.request({ url: `/api/product/?cursor=${bad}`, token });
      expect(response.statusCode, bad).toBe(400);
      expect(response.json().errors[0].path).toBe("/query/cursor");
    }
    const withOffset = await t.request({ url: `/api/product/?ordering=price&limit=2&offset=2&cursor=${b64(good)}`, token });
    expect(withOffset.statusCode).toBe(400);
    expect(withOffset.json().errors[0]).toMatchObject({ path: "/query/offset", code: "offset-with-cursor" });
    // Nothing above was a 5xx, and the list still answers.
    expect((await list("limit=1")).results).toHaveLength(1);
  });

  it("answers limit=0 in cursor mode with the count and no links", async () => {
    const page = await list("limit=0&cursor=");
    expect(page).toEqual({ count: catalogue.length, next: null, previous: null, results: [] });
  });
});
