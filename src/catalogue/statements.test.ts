import { describe, expect, it } from "vitest";
import { Decimal } from "../shared/money.js";
import { ALL_STATEMENT_SHAPES, bindFilter, countProducts, productKeysetPage, productPage } from "./statements.js";

describe("the catalogue's statements, built once", () => {
  it("name every shape once, each name for one text, short enough for PostgreSQL with a connection prefix", () => {
    const names = ALL_STATEMENT_SHAPES.map((s) => s.name!);
    expect(new Set(names).size).toBe(ALL_STATEMENT_SHAPES.length);
    expect(new Set(ALL_STATEMENT_SHAPES.map((s) => s.text)).size).toBe(ALL_STATEMENT_SHAPES.length);
    for (const name of names) expect(Buffer.byteLength(name)).toBeLessThanOrEqual(48);
    // Counts (8 filter shapes), offset pages (× 8 orderings), keyset pages (× 8 read orders × with or without a key).
    expect(ALL_STATEMENT_SHAPES).toHaveLength(8 + 64 + 128);
  });

  it("pick the same statement object for every request of a shape and bind its values in parameter order", () => {
    const filter = { keyword: "50%_off\\", minPrice: new Decimal("1.50"), maxPrice: new Decimal("5") };
    const first = productPage(filter, { field: "price", descending: true }, 5, 10);
    const again = productPage({ ...filter, keyword: "other" }, { field: "price", descending: true }, 7, 0);
    expect(first.statement).toBe(again.statement);
    expect(first.statement.name).toBe("catalogue_page_knx_price_d");
    expect(first.values).toEqual(["%50\\%\\_off\\\\%", "1.5", "5", 5, 10]);
    expect(first.statement.text).toContain(
      "WHERE name ILIKE $1 AND price >= $2::numeric AND price <= $3::numeric ORDER BY products.price DESC, products.id DESC LIMIT $4 OFFSET $5",
    );
    expect(countProducts(filter).statement.text).toBe(
      "SELECT count(*)::int AS count FROM products WHERE name ILIKE $1 AND price >= $2::numeric AND price <= $3::numeric",
    );
  });

  it("read backwards as the reversed order, from the key", () => {
    const after = productKeysetPage({ maxPrice: new Decimal("5") }, { field: "created_at", descending: false }, "backward", ["2026-01-01T00:00:00.000Z", 9], 6);
    expect(after.statement.text).toMatch(
      /WHERE price <= \$1::numeric AND \(products\.created_at, products\.id\) < \(\$2::timestamptz, \$3::int\) ORDER BY products\.created_at DESC, products\.id DESC LIMIT \$4$/,
    );
    expect(after.values).toEqual(["5", "2026-01-01T00:00:00.000Z", 9, 6]);
    const fromEnd = productKeysetPage({}, { field: "id", descending: false }, "backward", undefined, 6);
    expect(fromEnd.statement).toBe(productKeysetPage({}, { field: "id", descending: true }, "forward", undefined, 3).statement);
  });

  it("plan short keywords and deep pages for their own values: unnamed", () => {
    expect(productPage({ keyword: "te" }, { field: "id", descending: false }, 5, 0).statement.name).toBeUndefined();
    expect(productPage({}, { field: "id", descending: false }, 5, 10_001).statement.name).toBeUndefined();
    expect(productPage({}, { field: "id", descending: false }, 5, 10_000).statement.name).toBe("catalogue_page_all_id");
  });

  it("key counts by shape and values without ambiguity", () => {
    const keys = [
      bindFilter({ keyword: "1|2" }),
      bindFilter({ keyword: "2", minPrice: new Decimal("1") }),
      bindFilter({ minPrice: new Decimal("1"), maxPrice: new Decimal("2") }),
      bindFilter({ maxPrice: new Decimal("2"), keyword: "1" }),
      bindFilter({ minPrice: new Decimal("1.0") }),
    ].map((f) => f.countKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys[4]).toBe(bindFilter({ minPrice: new Decimal("1") }).countKey);
  });
});
