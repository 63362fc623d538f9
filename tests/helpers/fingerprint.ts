import type { DatabaseClient } from "../../src/infra/db/client.js";

const TABLES = ["users", "products", "orders", "order_items", "refresh_tokens", "idempotency_keys"];

/** A digest of every row the service writes: equal before and after means nothing was written. */
export async function databaseFingerprint(database: DatabaseClient): Promise<string> {
  const parts = TABLES.map((table) => `(SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM ${table} t)`);
  const { rows } = await database.pool.query(`SELECT concat_ws('|', ${parts.join(", ")}) AS f`);
  return rows[0].f;
}
