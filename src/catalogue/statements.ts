import type { Statement } from "../infra/db/client.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { INT4_MAX } from "../shared/int4.js";

// The catalogue's hot reads as plain SQL on the pool Prisma's adapter uses. Measured with
// `npm run bench:catalogue`: Prisma's per-query work was a third of the service's CPU on these
// reads; everything that writes still goes through Prisma.

export interface ProductFilter {
  keyword?: string;
  minPrice?: Prisma.Decimal;
  maxPrice?: Prisma.Decimal;
}

const COLUMNS = `id, name, name_key AS "nameKey", price::text AS price, stock, version, created_at AS "createdAt", updated_at AS "updatedAt"`;

/** A value `products.id` (PostgreSQL's `integer`, from 1) can hold. */
export const isSerialId = (id: number) => Number.isInteger(id) && id >= 1 && id <= INT4_MAX;

/** The products of several concurrent reads by id, in one statement (src/catalogue/coalesced-reads.ts). */
export const productsByIds: Statement = {
  text: `SELECT ${COLUMNS} FROM products WHERE id = ANY($1::int[])`,
  model: "Product",
  operation: "findByIds",
};

/** What a product list can be sorted by. */
export type SortField = "id" | "name" | "price" | "created_at";

export interface Ordering {
  field: SortField;
  descending: boolean;
}

/**
 * The columns each ordering sorts on, each one a total order served by an index: `name` sorts
 * on name_key (lower(name), unique), the others break ties on id, in the same direction.
 * The SQL type of each column, for the keyset's parameters.
 */
export const SORT_COLUMNS: Record<SortField, { column: string; type: string }[]> = {
  id: [{ column: "id", type: "int" }],
  name: [{ column: "name_key", type: "text" }],
  price: [
    { column: "price", type: "numeric" },
    { column: "id", type: "int" },
  ],
  created_at: [
    { column: "created_at", type: "timestamptz" },
    { column: "id", type: "int" },
  ],
};

/** A position in an ordering: the sort columns' values of a product, as text or numbers. */
export type SortKey = (string | number)[];

/** The conditions and values of a filter; LIKE wildcards in the keyword match literally. */
function conditions(filter: ProductFilter): { parts: string[]; values: unknown[] } {
  const parts: string[] = [];
  const values: unknown[] = [];
  if (filter.keyword) {
    // ILIKE '%…%' is served by the trigram GIN index on products.name.
    values.push(`%${filter.keyword.replace(/[\\%_]/g, "\\$&")}%`);
    parts.push(`name ILIKE $${values.length}`);
  }
  if (filter.minPrice) {
    values.push(filter.minPrice.toString());
    parts.push(`price >= $${values.length}::numeric`);
  }
  if (filter.maxPrice) {
    values.push(filter.maxPrice.toString());
    parts.push(`price <= $${values.length}::numeric`);
  }
  return { parts, values };
}

const where = (parts: string[]) => (parts.length ? `WHERE ${parts.join(" AND ")}` : "");

/**
 * A keyword of fewer than three characters has no trigram for the index to look up: its best
 * plan is a scan, while longer keywords' is the trigram index. A prepared statement's plan is
 * eventually shared by every keyword (measured at 1,000,000 products: a one-letter count took
 * 0.9 s on the shared plan against 0.3 s planned for itself), so those are planned each time.
 */
const planShared = (filter: ProductFilter) => !filter.keyword || [...filter.keyword].length >= 3;

/**
 * Past this offset a page is planned for its own offset too: the shared plan is made for the
 * shallow pages most requests read, and at 1,000,000 products it made the deepest pages by price
 * and by creation time 20-40 % slower than a plan of their own.
 */
const SHARED_PLAN_MAX_OFFSET = 10_000;

/** Qualified: a bare `price` in ORDER BY would name the selected `price::text AS price`, sorting as text. */
function orderBy(ordering: Ordering, reversed = false): string {
  const descending = ordering.descending !== reversed;
  return SORT_COLUMNS[ordering.field].map(({ column }) => `products.${column}${descending ? " DESC" : ""}`).join(", ");
}

export function countProducts(filter: ProductFilter): { statement: Statement; values: unknown[] } {
  const { parts, values } = conditions(filter);
  return {
    statement: { text: `SELECT count(*)::int AS count FROM products ${where(parts)}`, model: "Product", operation: "count", prepare: planShared(filter) },
    values,
  };
}

/**
 * A page by offset. The inner query finds the page's ids alone (an index-only scan on the
 * ordering's index when there is no filter), so a deep offset skips index entries, not rows.
 */
export function productPage(filter: ProductFilter, ordering: Ordering, limit: number, offset: number): { statement: Statement; values: unknown[] } {
  const { parts, values } = conditions(filter);
  const l = values.length + 1;
  const order = orderBy(ordering);
  const text = `SELECT ${COLUMNS} FROM products JOIN (SELECT id FROM products ${where(parts)} ORDER BY ${order} LIMIT $${l} OFFSET $${l + 1}) page USING (id) ORDER BY ${order}`;
  return {
    statement: { text, model: "Product", operation: "findMany", prepare: planShared(filter) && offset <= SHARED_PLAN_MAX_OFFSET },
    values: [...values, limit, offset],
  };
}

/**
 * A page by keyset: the `limit` products after `after` in the ordering (forwards), or before
 * `before` (backwards: the answer comes in reverse order). Without a key, from the start (or
 * the end). The row comparison `(price, id) > ($1, $2)` is an index range on (price, id), so
 * the page costs the same however deep it is.
 */
export function productKeysetPage(
  filter: ProductFilter,
  ordering: Ordering,
  direction: "forward" | "backward",
  key: SortKey | undefined,
  limit: number,
): { statement: Statement; values: unknown[] } {
  const { parts, values } = conditions(filter);
  const backward = direction === "backward";
  if (key) {
    const columns = SORT_COLUMNS[ordering.field];
    const placeholders = columns.map(({ type }, i) => `$${values.length + i + 1}::${type}`);
    const greater = ordering.descending === backward;
    parts.push(`(${columns.map((c) => `products.${c.column}`).join(", ")}) ${greater ? ">" : "<"} (${placeholders.join(", ")})`);
    values.push(...key);
  }
  values.push(limit);
  const text = `SELECT ${COLUMNS} FROM products ${where(parts)} ORDER BY ${orderBy(ordering, backward)} LIMIT $${values.length}`;
  return { statement: { text, model: "Product", operation: "findMany", prepare: planShared(filter) }, values };
}
