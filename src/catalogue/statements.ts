import type { Statement } from "../infra/db/client.js";
import type { Prisma } from "../../generated/prisma/client.js";

// The catalogue's hot reads as plain SQL on the pool Prisma's adapter uses. Measured with
// `npm run bench:catalogue`: Prisma's per-query work was a third of the service's CPU on these
// reads; everything that writes still goes through Prisma.

export interface ProductFilter {
  keyword?: string;
  minPrice?: Prisma.Decimal;
  maxPrice?: Prisma.Decimal;
}

const COLUMNS = `id, name, name_key AS "nameKey", price::text AS price, stock, version, created_at AS "createdAt", updated_at AS "updatedAt"`;

export { isSerialId } from "../shared/ids.js";

/** The products of several concurrent reads by id, in one statement (src/catalogue/coalesced-reads.ts). */
export const productsByIds: Statement = {
  name: "catalogue_by_ids",
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

/** Which filters a list has: one bit each, so a filter's shape is a small index. */
const KEYWORD = 1;
const MIN_PRICE = 2;
const MAX_PRICE = 4;
const FILTER_SHAPES = 8;

/**
 * A filter ready to run: its shape, its values in parameter order ($1, $2, …) and whether one
 * plan may serve every value. Made once per request and shared by the count and the page.
 */
export interface BoundFilter {
  shape: number;
  values: string[];
  planShared: boolean;
  /** Tells one filter's count from another's: the shape and values, unambiguously. */
  countKey: string;
}

/** Binds a filter's values; LIKE wildcards in the keyword match literally. */
export function bindFilter(filter: ProductFilter): BoundFilter {
  let shape = 0;
  const values: string[] = [];
  const minPrice = filter.minPrice?.toString();
  const maxPrice = filter.maxPrice?.toString();
  if (filter.keyword) {
    shape |= KEYWORD;
    values.push(`%${filter.keyword.replace(/[\\%_]/g, "\\$&")}%`);
  }
  if (minPrice !== undefined) {
    shape |= MIN_PRICE;
    values.push(minPrice);
  }
  if (maxPrice !== undefined) {
    shape |= MAX_PRICE;
    values.push(maxPrice);
  }
  // The prices are decimals (no "|"), so the keyword, last, may hold any character.
  return { shape, values, planShared: planShared(filter), countKey: `${shape}|${minPrice ?? ""}|${maxPrice ?? ""}|${filter.keyword ?? ""}` };
}

/** The conditions of a filter shape, numbered from $1. */
function conditions(shape: number): string[] {
  const parts: string[] = [];
  if (shape & KEYWORD) parts.push(`name ILIKE $${parts.length + 1}`); // served by the trigram GIN index on products.name
  if (shape & MIN_PRICE) parts.push(`price >= $${parts.length + 1}::numeric`);
  if (shape & MAX_PRICE) parts.push(`price <= $${parts.length + 1}::numeric`);
  return parts;
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
function orderBy(field: SortField, descending: boolean): string {
  return SORT_COLUMNS[field].map(({ column }) => `products.${column}${descending ? " DESC" : ""}`).join(", ");
}

const SORT_FIELDS = Object.keys(SORT_COLUMNS) as SortField[];
const ORDERINGS = SORT_FIELDS.length * 2;
/** An ordering's index among the eight: the field's place, times two, plus one when descending. */
const orderingIndex = (ordering: Ordering) => SORT_FIELDS.indexOf(ordering.field) * 2 + (ordering.descending ? 1 : 0);

/** One statement shape, under its name (prepared once per connection) and unnamed (planned for its values). */
interface Shape {
  shared: Statement;
  own: Statement;
}

function shape(name: string, text: string, operation: string): Shape {
  const own: Statement = { text, model: "Product", operation };
  return { shared: { ...own, name: `catalogue_${name}` }, own };
}

// Names stay well under PostgreSQL's 63 bytes, with the embedded server's per-connection prefix.
const filterTag = (filterShape: number) =>
  `${filterShape & KEYWORD ? "k" : ""}${filterShape & MIN_PRICE ? "n" : ""}${filterShape & MAX_PRICE ? "x" : ""}` || "all";

const orderingTag = (index: number) => `${SORT_FIELDS[index >> 1]}${index & 1 ? "_d" : ""}`;

// Every statement the catalogue's lists can run, built once, indexed by filter shape, then
// ordering (a keyset page: the order it reads in, which is reversed when reading backwards),
// then, for a keyset page, whether it starts from a key.
const COUNTS: Shape[] = [];
const OFFSET_PAGES: Shape[] = [];
const KEYSET_PAGES: Shape[] = [];
for (let f = 0; f < FILTER_SHAPES; f++) {
  const parts = conditions(f);
  const n = parts.length;
  COUNTS.push(shape(`count_${filterTag(f)}`, `SELECT count(*)::int AS count FROM products ${where(parts)}`, "count"));
  for (let o = 0; o < ORDERINGS; o++) {
    const field = SORT_FIELDS[o >> 1]!;
    const descending = (o & 1) === 1;
    const columns = SORT_COLUMNS[field];
    const tag = `${filterTag(f)}_${orderingTag(o)}`;
    const order = orderBy(field, descending);
    OFFSET_PAGES.push(
      shape(
        `page_${tag}`,
        `SELECT ${COLUMNS} FROM products JOIN (SELECT id FROM products ${where(parts)} ORDER BY ${order} LIMIT $${n + 1} OFFSET $${n + 2}) page USING (id) ORDER BY ${order}`,
        "findMany",
      ),
    );
    KEYSET_PAGES.push(shape(`keyset_${tag}`, `SELECT ${COLUMNS} FROM products ${where(parts)} ORDER BY ${order} LIMIT $${n + 1}`, "findMany"));
    const placeholders = columns.map(({ type }, i) => `$${n + i + 1}::${type}`);
    const after = `(${columns.map((c) => `products.${c.column}`).join(", ")}) ${descending ? "<" : ">"} (${placeholders.join(", ")})`;
    KEYSET_PAGES.push(
      shape(`keyset_${tag}_key`, `SELECT ${COLUMNS} FROM products ${where([...parts, after])} ORDER BY ${order} LIMIT $${n + columns.length + 1}`, "findMany"),
    );
  }
}

/** A statement and the values to bind to it. */
export interface BoundStatement {
  statement: Statement;
  values: unknown[];
}

export function countStatement(filter: BoundFilter): BoundStatement {
  const s = COUNTS[filter.shape]!;
  return { statement: filter.planShared ? s.shared : s.own, values: filter.values };
}

/**
 * A page by offset. The inner query finds the page's ids alone (an index-only scan on the
 * ordering's index when there is no filter), so a deep offset skips index entries, not rows.
 */
export function pageStatement(filter: BoundFilter, ordering: Ordering, limit: number, offset: number): BoundStatement {
  const s = OFFSET_PAGES[filter.shape * ORDERINGS + orderingIndex(ordering)]!;
  return { statement: filter.planShared && offset <= SHARED_PLAN_MAX_OFFSET ? s.shared : s.own, values: [...filter.values, limit, offset] };
}

/**
 * A page by keyset: the `limit` products after `after` in the ordering (forwards), or before
 * `before` (backwards: the answer comes in reverse order). Without a key, from the start (or
 * the end). The row comparison `(price, id) > ($1, $2)` is an index range on (price, id), so
 * the page costs the same however deep it is.
 */
export function keysetStatement(
  filter: BoundFilter,
  ordering: Ordering,
  direction: "forward" | "backward",
  key: SortKey | undefined,
  limit: number,
): BoundStatement {
  // Backwards is the reversed order, read forwards (and the answer reversed by the caller).
  const readOrder = orderingIndex(ordering) ^ (direction === "backward" ? 1 : 0);
  const s = KEYSET_PAGES[(filter.shape * ORDERINGS + readOrder) * 2 + (key ? 1 : 0)]!;
  return { statement: filter.planShared ? s.shared : s.own, values: key ? [...filter.values, ...key, limit] : [...filter.values, limit] };
}

/** The count of a filter's products (for tools that start from a filter, such as the benchmarks). */
export const countProducts = (filter: ProductFilter) => countStatement(bindFilter(filter));

/** A page by offset of a filter's products (see pageStatement). */
export const productPage = (filter: ProductFilter, ordering: Ordering, limit: number, offset: number) =>
  pageStatement(bindFilter(filter), ordering, limit, offset);

/** A page by keyset of a filter's products (see keysetStatement). */
export const productKeysetPage = (filter: ProductFilter, ordering: Ordering, direction: "forward" | "backward", key: SortKey | undefined, limit: number) =>
  keysetStatement(bindFilter(filter), ordering, direction, key, limit);

/** Every statement shape, for the tests that check there is one per name. */
export const ALL_STATEMENT_SHAPES: readonly Statement[] = [COUNTS, OFFSET_PAGES, KEYSET_PAGES].flat().map((s) => s.shared);
