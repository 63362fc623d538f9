// The statements that place and cancel orders. Kept as text with numbered parameters so that
// the repository runs them (tx.$queryRawUnsafe, bound values) and the flash-sale benchmark's
// pgbench script runs exactly the same SQL as its ceiling.
//
// Row locks: every statement that changes stock first locks the product rows it touches in id
// order (`ORDER BY id FOR UPDATE` in a MATERIALIZED CTE: PostgreSQL sorts, then locks row by row),
// and only then updates them. Orders and cancels over the same products therefore queue in one
// order and never deadlock. Under READ COMMITTED a lock that waited returns the row as the holder
// committed it, and the UPDATE that follows in the same statement rewrites that newest version.

/**
 * Locks the products of an order, checks every line's stock and takes it, all or nothing, in one
 * statement. $1: product ids (distinct), $2: quantities in the same order.
 * Returns one row per existing product (id order), with its name, price and stock before the
 * order, and `taken`: how many products were decremented (all of them, or 0 when a product is
 * missing or short, in which case nothing changed).
 */
export const TAKE_STOCK = `
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
SELECT l.id, l.name, l.price::text AS price, l.stock, (SELECT count(*) FROM taken)::int AS taken
FROM locked l ORDER BY l.id`;

/**
 * Writes the order and its lines, and the answer an Idempotency-Key replays, in one statement.
 * $1: user id, $2: total, $3..$7: the lines in request order (product ids, names, unit prices,
 * quantities, line totals), $8: the answer without `id` and `created_at` (jsonb), $9: the
 * Idempotency-Key or null. Returns the order's id and created_at.
 */
export const WRITE_ORDER = `
WITH new_order AS (
  INSERT INTO orders (user_id, total, updated_at) VALUES ($1::uuid, $2::numeric, now())
  RETURNING id, created_at
), lines AS (
  INSERT INTO order_items (order_id, product_id, product_name, unit_price, quantity, line_total)
  SELECT o.id, l.product_id, l.name, l.unit_price, l.quantity, l.line_total
  FROM new_order o,
       unnest($3::int[], $4::text[], $5::numeric[], $6::int[], $7::numeric[]) WITH ORDINALITY
         AS l(product_id, name, unit_price, quantity, line_total, n)
  ORDER BY l.n
), answer AS (
  UPDATE idempotency_keys k
  SET status_code = 201,
      body = $8::jsonb || jsonb_build_object('id', o.id, 'created_at', to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
  FROM new_order o
  WHERE k.user_id = $1::uuid AND k.key = $9::text
)
SELECT id, created_at FROM new_order`;

/**
 * Cancels an order that is still `created` and puts its lines back in stock, in one statement:
 * the order row is locked first (a concurrent cancel of the same order waits here, then finds it
 * cancelled and changes nothing), then the lines' products in id order. Lines whose product no
 * longer exists (or whose id was lost before ids were kept) are not restocked.
 * $1: order id, $2: the owner it must belong to, or null (an admin).
 * Returns one row when the order was cancelled (with the units put back), none otherwise.
 */
export const CANCEL_ORDER = `
WITH cancelled AS (
  UPDATE orders SET status = 'cancelled', cancelled_at = now(), updated_at = now()
  WHERE id = $1::int AND status = 'created' AND ($2::uuid IS NULL OR user_id = $2::uuid)
  RETURNING id
), lines AS MATERIALIZED (
  SELECT i.product_id AS id, i.quantity FROM order_items i JOIN cancelled c ON i.order_id = c.id
), locked AS MATERIALIZED (
  SELECT p.id FROM products p WHERE p.id IN (SELECT id FROM lines) ORDER BY p.id FOR UPDATE OF p
), restocked AS (
  UPDATE products p SET stock = p.stock + l.quantity, updated_at = now()
  FROM lines l JOIN locked USING (id) WHERE p.id = l.id
  RETURNING l.quantity
)
SELECT c.id, (SELECT coalesce(sum(quantity), 0) FROM restocked)::int AS units_returned FROM cancelled c`;
