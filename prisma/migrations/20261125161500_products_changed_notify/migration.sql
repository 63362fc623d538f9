-- Hand-written (Prisma's schema cannot express triggers).
-- Every statement that may change a product list's `count` (a product added, removed, renamed or
-- repriced; stock changes by orders do not) notifies the `products_changed` channel once, when
-- its transaction commits. Each replica LISTENs on it (src/db/coordination.ts) and stops reusing
-- its cached counts, so a write through one replica counts on every other within milliseconds.
CREATE FUNCTION "notify_products_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('products_changed', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER "products_changed"
  AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF "name", "price" ON "products"
  FOR EACH STATEMENT EXECUTE FUNCTION "notify_products_changed"();
