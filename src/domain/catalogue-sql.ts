import type { Statement } from "../db/client.js";
import type { Prisma } from "../../generated/prisma/client.js";

// The catalogue's hot reads as plain SQL on the pool Prisma's adapter uses. Measured with
// `npm run bench:catalogue`: Prisma's per-query work was a third of the service's CPU on these
// reads; everything that writes still goes through Prisma.

export interface ProductFilter {
  keyword?: string;
  maxPrice?: Prisma.Decimal;
}

const COLUMNS = `id, name, price::text AS price, stock, created_at AS "createdAt", updated_at AS "updatedAt"`;

export const productById: Statement = {
  text: `SELECT ${COLUMNS} FROM products WHERE id = $1`,
  model: "Product",
  operation: "findById",
};

/** The SQL conditions and values of a filter; LIKE wildcards in the keyword match literally. */
function conditions(filter: ProductFilter): { where: string; values: unknown[] } {
  const parts: string[] = [];
  const values: unknown[] = [];
  if (filter.keyword) {
    // ILIKE '%…%' is served by the trigram GIN index on products.name.
    values.push(`%${filter.keyword.replace(/[\\%_]/g, "\\$&")}%`);
    parts.push(`name ILIKE $${values.length}`);
  }
  if (filter.maxPrice) {
    values.push(filter.maxPrice.toString());
    parts.push(`price <= $${values.length}::numeric`);
  }
  return {
    where: parts.length ? `WHERE ${parts.join(" AND ")}` : "",
    values,
  };
}

export function countProducts(filter: ProductFilter): { statement: Statement; values: unknown[] } {
  const { where, values } = conditions(filter);
  return { statement: { text: `SELECT count(*)::int AS count FROM products ${where}`, model: "Product", operation: "count" }, values };
}

/**
 * A page by id. The inner query finds the page's ids alone (an index-only scan when there is no
 * filter), so a deep offset skips index entries instead of whole rows.
 */
export function productPage(filter: ProductFilter, limit: number, offset: number): { statement: Statement; values: unknown[] } {
  const { where, values } = conditions(filter);
  const l = values.length + 1;
  const text = `SELECT ${COLUMNS} FROM products JOIN (SELECT id FROM products ${where} ORDER BY id LIMIT $${l} OFFSET $${l + 1}) page USING (id) ORDER BY id`;
  return { statement: { text, model: "Product", operation: "findMany" }, values: [...values, limit, offset] };
}
