// The statements that place, cancel and fulfil orders, and claim an order's Idempotency-Key, each
// prepared once per connection under its name (preparedRaw). Kept as text with numbered
// parameters so that the repository runs them (tx.$queryRawUnsafe, bound values) and the
// flash-sale benchmark's pgbench script runs exactly the same SQL as its ceiling.
//
// Row locks: every statement that changes stock first locks the product rows it touches in id
// order (`ORDER BY id FOR UPDATE` in a MATERIALIZED CTE: PostgreSQL sorts, then locks row by row),
// and only then updates them. Orders and cancels over the same products therefore queue in one
// order and never deadlock. Under READ COMMITTED a lock that waited returns the row as the holder
// committed it, and the UPDATE that follows in the same statement rewrites that newest version.

import { recordEventCall } from "../events/index.js";
import { preparedRaw } from "../infra/db/prepared-raw.js";

/**
 * Locks the products of an order, checks every line's stock and takes it, all or nothing, in one
 * statement. $1: product ids (distinct), $2: quantities in the same order.
 * Returns one row per existing product (id order), with its name, price and stock before the
 * order, and `taken`: how many products were decremented (all of them, or 0 when a product is
 * missing or short, in which case nothing changed). When the stock was taken, also the ids the
 * order and its lines will have (drawn from their sequences here, so that the next statement can
 * write the order, its lines and the answer an Idempotency-Key replays all at once) and the
 * order's creation time (the transaction's, at the columns' precision); null otherwise.
 */
export const TAKE_STOCK = preparedRaw(
  "order_take_stock",
  `
WITH wanted AS (
  SELECT * FROM unnest($1::int[], $2::int[]) AS w(id, quantity)
), locked AS MATERIALIZED (
  SELECT p.id, p.name, p.price, p.stock FROM products p WHERE p.id = ANY($1::int[]) ORDER BY p.id FOR UPDATE
), enough AS (
  SELECT count(*) = cardinality($1::int[]) AS ok FROM locked JOIN wanted USING (id) WHERE locked.stock >= wanted.quantity
), taken AS (
  UPDATE products p SET stock = p.stock - w.quantity, updated_at = now()
  FROM wanted w, enough WHERE enough.ok AND p.id = w.id AND p.id = ANY($1::int[])
  RETURNING p.id
)
SELECT l.id, l.name, l.price::text AS price, l.stock, (SELECT count(*) FROM taken)::int AS taken,
  (SELECT nextval('orders_id_seq')::int FROM enough WHERE ok) AS order_id,
  (SELECT ARRAY(SELECT nextval('order_items_id_seq')::int FROM generate_series(1, cardinality($1::int[]))) FROM enough WHERE ok) AS item_ids,
  now()::timestamptz(3) AS created_at
FROM locked l ORDER BY l.id`,
);

/**
 * Writes the order, its lines and the answer an Idempotency-Key replays, in one statement, with
 * the ids and time TAKE_STOCK drew. $1: order id, $2: user id, $3: total, $4: created_at,
 * $5..$10: the lines (ids, product ids, names, unit prices, quantities, line totals),
 * $11: the answer to replay (jsonb) and $12: the Idempotency-Key, or both null; $13..$18: the
 * order.created event (pendingEvent's values), written by the same statement. Answers the order's
 * id and what record_event answered (`written`).
 */
export const WRITE_ORDER = preparedRaw(
  "order_write",
  `
WITH new_order AS (
  INSERT INTO orders (id, user_id, total, created_at, updated_at) VALUES ($1::int, $2::uuid, $3::numeric, $4::timestamptz, $4::timestamptz)
), lines AS (
  INSERT INTO order_items (id, order_id, product_id, product_name, unit_price, quantity, line_total)
  SELECT l.id, $1::int, l.product_id, l.name, l.unit_price, l.quantity, l.line_total
  FROM unnest($5::int[], $6::int[], $7::text[], $8::numeric[], $9::int[], $10::numeric[]) AS l(id, product_id, name, unit_price, quantity, line_total)
), answer AS (
  UPDATE idempotency_keys SET status_code = 201, body = $11::jsonb WHERE user_id = $2::uuid AND key = $12::text
)
SELECT $1::int AS id, ${recordEventCall(13)} AS written`,
);

/**
 * Cancels an order that is still `created` and puts its lines back in stock, in one statement:
 * the order row is locked first (a concurrent cancel of the same order waits here, then finds it
 * cancelled and changes nothing), then the lines' products in id order. Only then, under those
 * locks, is every line checked for room: when putting a line back would take its product above
 * the maximum stock, nothing is written (the order stays `created`) and the products without
 * room are returned. Lines whose product no longer exists (or whose id was lost before ids were
 * kept) are not restocked.
 * $1: order id, $2: the owner it must belong to, or null (an admin), $3: the maximum stock.
 * Returns one row when the order was found cancellable: `cancelled` says whether it now is, with
 * the units put back; when it is not, `no_room` lists the products without room for their line
 * (id order). No row when there is no `created` order of that id (and owner).
 */
export const CANCEL_ORDER = preparedRaw(
  "order_cancel",
  `
WITH target AS MATERIALIZED (
  SELECT o.id FROM orders o
  WHERE o.id = $1::int AND o.status = 'created' AND ($2::uuid IS NULL OR o.user_id = $2::uuid)
  FOR UPDATE
), lines AS MATERIALIZED (
  SELECT i.product_id AS id, i.quantity FROM order_items i JOIN target t ON i.order_id = t.id
), locked AS MATERIALIZED (
  SELECT p.id, p.name, p.stock FROM products p WHERE p.id IN (SELECT id FROM lines) ORDER BY p.id FOR UPDATE OF p
), no_room AS MATERIALIZED (
  SELECT k.id, k.name, k.stock, l.quantity FROM locked k JOIN lines l USING (id)
  WHERE k.stock::bigint + l.quantity > $3::bigint
), cancelled AS (
  UPDATE orders o SET status = 'cancelled', cancelled_at = now(), updated_at = now()
  FROM target t WHERE o.id = t.id AND NOT EXISTS (SELECT 1 FROM no_room)
  RETURNING o.id
), restocked AS (
  UPDATE products p SET stock = p.stock + l.quantity, updated_at = now()
  FROM lines l JOIN locked USING (id) WHERE p.id = l.id AND NOT EXISTS (SELECT 1 FROM no_room)
  RETURNING l.quantity
)
SELECT t.id, EXISTS (SELECT 1 FROM cancelled) AS cancelled,
  (SELECT coalesce(sum(quantity), 0) FROM restocked)::int AS units_returned,
  (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'stock', stock, 'quantity', quantity) ORDER BY id), '[]'::json) FROM no_room) AS no_room
FROM target t`,
);

/**
 * Fulfils an order that is still `created`: the UPDATE locks the row, and under READ COMMITTED an
 * UPDATE that waited for a concurrent cancel or fulfil re-reads the row as committed and skips it
 * when it is no longer `created`. Stock is not touched (it was taken when the order was placed).
 * $1: order id. Returns the order's id when it was fulfilled now; no row otherwise.
 */
export const FULFIL_ORDER = preparedRaw(
  "order_fulfil",
  `
UPDATE orders SET status = 'fulfilled', fulfilled_at = now(), updated_at = now()
WHERE id = $1::int AND status = 'created'
RETURNING id`,
);

/** How long an Idempotency-Key keeps its answer. */
export const IDEMPOTENCY_WINDOW = "24 hours";

/** Removes the user's key when it has expired, so that it can be claimed again. $1: user id, $2: key. */
export const DELETE_EXPIRED_KEY = preparedRaw(
  "order_key_expired",
  `DELETE FROM idempotency_keys WHERE user_id = $1::uuid AND key = $2 AND created_at < now() - interval '${IDEMPOTENCY_WINDOW}'`,
);

/**
 * Claims the key for this request: one row written, or none when the key is held (by an earlier
 * request, or by a concurrent one, whose commit this waits for). $1: user id, $2: key, $3: the
 * request's hash.
 */
export const CLAIM_KEY = preparedRaw(
  "order_key_claim",
  `INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, body)
VALUES ($1::uuid, $2, $3, 0, '{}'::jsonb)
ON CONFLICT DO NOTHING`,
);
