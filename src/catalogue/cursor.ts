import { invalidFields } from "../errors/app-error.js";
import { isIsoMillisecondTimestamp } from "../shared/timestamps.js";
import { isSerialId, SORT_COLUMNS, type Ordering, type SortField, type SortKey } from "./statements.js";
import type { ProductFilter } from "./statements.js";

/**
 * Where a cursor page starts: after `key` (forward) or before it (backward) in `ordering`,
 * for the list filtered by `filter`. Without a key: from the start (forward) or the end.
 */
export interface CatalogueCursor {
  ordering: Ordering;
  filter: ProductFilter;
  direction: "forward" | "backward";
  key?: SortKey;
}

/** The cursor's wire form, before base64url: short names keep links short. */
interface CursorJson {
  v: 1;
  /** Ordering, as in the query (`-price`). */
  o: string;
  /** The filter it belongs to, normalised (see filterSignature). */
  f: string;
  /** "n": after the key, "p": before it. */
  d: "n" | "p";
  k?: SortKey;
}

const SORT_FIELDS = Object.keys(SORT_COLUMNS) as SortField[];

export function orderingName(ordering: Ordering): string {
  return `${ordering.descending ? "-" : ""}${ordering.field}`;
}

/** The eight orderings by their query names (`price`, `-price`, …), built once. */
const ORDERINGS = new Map<string, Ordering>(
  SORT_FIELDS.flatMap((field) => [false, true].map((descending): [string, Ordering] => [orderingName({ field, descending }), { field, descending }])),
);

/** The `ordering` query parameter (validated against the same names by the spec's enum): `id` when absent. */
export function parseOrdering(text: string | undefined): Ordering {
  const ordering = ORDERINGS.get(text ?? "id");
  if (!ordering)
    throw invalidFields([{ field: ["ordering"], source: "query", message: `must be one of ${SORT_FIELDS.join(", ")}, optionally with a leading -` }]);
  return ordering;
}

/** The filter as one string, so that "2.50" and "2.5" are the same filter. */
function filterSignature(filter: ProductFilter): string {
  return JSON.stringify([filter.keyword ?? null, filter.minPrice?.toString() ?? null, filter.maxPrice?.toString() ?? null]);
}

export function encodeCursor(cursor: CatalogueCursor): string {
  const json: CursorJson = {
    v: 1,
    o: orderingName(cursor.ordering),
    f: filterSignature(cursor.filter),
    d: cursor.direction === "forward" ? "n" : "p",
    ...(cursor.key ? { k: cursor.key } : {}),
  };
  return Buffer.from(JSON.stringify(json)).toString("base64url");
}

const cursorError = (code: string, message: string) => invalidFields([{ field: ["cursor"], source: "query", code, message }]);

/** Each sort column's accepted key values (what the database writes as text for that column). */
const KEY_VALUE: Record<string, (value: unknown) => boolean> = {
  int: (v) => typeof v === "number" && isSerialId(v),
  numeric: (v) => typeof v === "string" && /^\d{1,7}(\.\d{1,3})?$/.test(v),
  // Date.parse alone reads 2024-02-30 as March 1st, which PostgreSQL then refuses.
  timestamptz: isIsoMillisecondTimestamp,
  text: (v) => typeof v === "string" && v.length <= 400 && !/[\p{Cc}\p{Cs}]/u.test(v),
};

/**
 * Reads a cursor sent back by a client, for the list it asks for now. Anything this service did
 * not write, or a cursor of another filter or ordering, is a 400 problem naming the cursor.
 */
export function decodeCursor(text: string, ordering: Ordering, filter: ProductFilter): CatalogueCursor {
  let json: Partial<CursorJson> = {};
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    if (parsed && typeof parsed === "object") json = parsed;
  } catch {
    // Not JSON: refused below like any other malformed cursor.
  }
  const columns =
    typeof json.o === "string" && Object.hasOwn(SORT_COLUMNS, json.o.replace(/^-/, "")) ? SORT_COLUMNS[json.o.replace(/^-/, "") as SortField] : undefined;
  const wellFormed =
    json.v === 1 &&
    columns !== undefined &&
    typeof json.f === "string" &&
    (json.d === "n" || json.d === "p") &&
    (json.k === undefined || (Array.isArray(json.k) && json.k.length === columns.length && json.k.every((value, i) => KEY_VALUE[columns[i]!.type]!(value))));
  if (!wellFormed) throw cursorError("invalid-cursor", "is not a cursor from a next or previous link");
  if (json.o !== orderingName(ordering) || json.f !== filterSignature(filter)) {
    throw cursorError(
      "cursor-mismatch",
      "belongs to another filter or ordering: follow it with the keyword, min_price, max_price and ordering it was made for, or start again without it",
    );
  }
  return { ordering, filter, direction: json.d === "n" ? "forward" : "backward", ...(json.k ? { key: json.k } : {}) };
}

/** The key of `product` in `ordering`, for a cursor that starts next to it. */
export function sortKeyOf(ordering: Ordering, product: { id: number; nameKey: string; price: { toString(): string } | string; createdAt: Date }): SortKey {
  return SORT_COLUMNS[ordering.field].map(({ column }) => {
    switch (column) {
      case "id":
        return product.id;
      case "name_key":
        return product.nameKey;
      case "price":
        return product.price.toString();
      default:
        return product.createdAt.toISOString();
    }
  });
}
