import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor, parseOrdering } from "./cursor.js";
import { Decimal } from "../shared/money.js";
import { AppError } from "../errors/app-error.js";
import { expectedVersion, noneMatch, pageETag, productETag } from "./conditional.js";

describe("entity tags", () => {
  it("revalidates with the weak comparison, lists and *", () => {
    const tag = productETag({ id: 7, version: 3 });
    expect(tag).toBe('"7-3"');
    for (const header of ['"7-3"', 'W/"7-3"', '"1-1", "7-3"', "*"]) expect(noneMatch(header, tag), header).toBe(true);
    for (const header of [undefined, '"7-4"', "7-3", '"7-3', ""]) expect(noneMatch(header, tag), String(header)).toBe(false);
  });

  it("turns If-Match into the versions it names for this product, compared strongly", () => {
    expect(expectedVersion(undefined, 7)).toBeUndefined();
    expect(expectedVersion("*", 7)).toBe("any");
    expect(expectedVersion('"7-3", "7-5", "8-4", W/"7-6", "07-9", "7-010", "7-99999999999"', 7)).toEqual({ versions: [3, 5] });
    expect(expectedVersion("junk", 7)).toEqual({ versions: [] });
  });

  it("gives a page a tag that changes with any product's version, the count or a link", () => {
    const page = { count: 2, next: "/api/product/?limit=1&offset=1", previous: null };
    const rows = [{ id: 1, version: 1 }];
    const tag = pageETag(page, rows);
    expect(pageETag({ ...page }, [{ id: 1, version: 1 }])).toBe(tag);
    expect(pageETag(page, [{ id: 1, version: 2 }])).not.toBe(tag);
    expect(pageETag({ ...page, count: 3 }, rows)).not.toBe(tag);
    expect(pageETag({ ...page, next: "https://other/api/product/?limit=1&offset=1" }, rows)).not.toBe(tag);
  });
});

describe("catalogue cursors", () => {
  const ordering = parseOrdering("-price");
  const filter = { keyword: "tea", maxPrice: new Decimal("2.50") };

  it("round-trip, and accept the same filter written differently", () => {
    const cursor = { ordering, filter, direction: "forward" as const, key: ["2.5", 9] };
    const text = encodeCursor(cursor);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(text, ordering, { keyword: "tea", maxPrice: new Decimal("2.5") })).toEqual({
      ...cursor,
      filter: { keyword: "tea", maxPrice: new Decimal("2.5") },
    });
  });

  it("refuse another filter or ordering, and anything garbled, as field errors of the query's cursor", () => {
    const text = encodeCursor({ ordering, filter, direction: "backward" });
    const refusal = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return error instanceof AppError ? error.fieldErrors?.[0] : error;
      }
      return undefined;
    };
    expect(refusal(() => decodeCursor(text, parseOrdering("price"), filter))).toMatchObject({ field: ["cursor"], source: "query", code: "cursor-mismatch" });
    expect(refusal(() => decodeCursor(text, ordering, { keyword: "tea" }))).toMatchObject({ code: "cursor-mismatch" });
    for (const garbled of [
      "",
      "e30",
      Buffer.from("null").toString("base64url"),
      Buffer.from('{"v":1,"o":"-price","f":"x","d":"n","k":[1,2]}').toString("base64url"),
    ]) {
      expect(
        refusal(() => decodeCursor(garbled, ordering, filter)),
        garbled,
      ).toMatchObject({ code: "invalid-cursor" });
    }
  });
});
