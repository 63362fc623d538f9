// The back-office list's SQL: keyset pages newest first, (created_at, id) descending, each
// filter served by an index (see prisma/schema.prisma): none by orders (created_at, id), a
// customer by (user_id, created_at, id), a status by (status, created_at, id). The row comparison
// `(created_at, id) < ($1, $2)` is a range on those indexes, so a page costs the same however deep.

/** What the back-office list keeps; every value was checked before it gets here. */
export interface OrderFilter {
  userId?: string;
  /** Distinct. */
  statuses?: string[];
  /** ISO instants, to the millisecond: created_at at or after this one … */
  createdAfter?: string;
  /** … and strictly before this one. */
  createdBefore?: string;
}

/** The filter's conditions and values, numbered from $1. */
function conditions(filter: OrderFilter, values: unknown[]): string[] {
  const parts: string[] = [];
  const param = (value: unknown, type: string) => `$${values.push(value)}::${type}`;
  if (filter.userId !== undefined) parts.push(`user_id = ${param(filter.userId, "uuid")}`);
  if (filter.createdAfter !== undefined) parts.push(`created_at >= ${param(filter.createdAfter, "timestamptz")}`);
  if (filter.createdBefore !== undefined) parts.push(`created_at < ${param(filter.createdBefore, "timestamptz")}`);
  return parts;
}

const where = (parts: string[]) => (parts.length ? `WHERE ${parts.join(" AND ")}` : "");

export interface Query {
  text: string;
  values: unknown[];
}

/** How many orders match the filter. */
export function countOrders(filter: OrderFilter): Query {
  const values: unknown[] = [];
  const parts = conditions(filter, values);
  if (filter.statuses) parts.push(`status = ANY($${values.push(filter.statuses)}::text[])`);
  return { text: `SELECT count(*)::int AS count FROM orders ${where(parts)}`, values };
}

/**
 * The ids of one keyset page: the `limit` orders after `key` (forward: older) or before it
 * (backward: newer, answered oldest first). Without a key, from the newest (or the oldest).
 * With statuses, each status is read from its own index range (at most `limit` rows each) and the
 * ranges merged: `status = ANY(…)` on one index could not stop after `limit` rows in date order.
 */
export function orderKeysetPage(filter: OrderFilter, direction: "forward" | "backward", key: [string, number] | undefined, limit: number): Query {
  const values: unknown[] = [];
  const parts = conditions(filter, values);
  const backward = direction === "backward";
  if (key) parts.push(`(created_at, id) ${backward ? ">" : "<"} ($${values.push(key[0])}::timestamptz, $${values.push(key[1])}::int)`);
  const order = (table: string) => (backward ? `${table}.created_at, ${table}.id` : `${table}.created_at DESC, ${table}.id DESC`);
  const l = `$${values.push(limit)}::int`;
  if (!filter.statuses) return { text: `SELECT id FROM orders ${where(parts)} ORDER BY ${order("orders")} LIMIT ${l}`, values };
  const s = `$${values.push(filter.statuses)}::text[]`;
  const text = `SELECT page.id FROM unnest(${s}) AS wanted(status) CROSS JOIN LATERAL (
  SELECT id, created_at FROM orders ${where([...parts, "orders.status = wanted.status"])} ORDER BY ${order("orders")} LIMIT ${l}
) page ORDER BY ${order("page")} LIMIT ${l}`;
  return { text, values };
}
