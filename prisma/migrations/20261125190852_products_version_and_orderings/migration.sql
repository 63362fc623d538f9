-- DropIndex
DROP INDEX "products_price_idx";

-- AlterTable
ALTER TABLE "products" ADD COLUMN     "version" INTEGER NOT NULL DEFAULT 1;

-- CreateIndex
CREATE INDEX "products_price_id_idx" ON "products"("price", "id");

-- CreateIndex
CREATE INDEX "products_created_at_id_idx" ON "products"("created_at", "id");

-- Hand-written (Prisma's schema cannot express triggers).
-- Every UPDATE of a product row, whoever runs it (an admin's PUT/PATCH, an order taking stock, a
-- cancel returning it, plain SQL), moves its version on in the same statement. The version is
-- the product's ETag, so a conditional GET or an If-Match write sees a change on every replica as
-- soon as it commits, with nothing to remember in the code that writes.
CREATE FUNCTION "bump_product_version"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  RETURN NEW;
END
$$;

CREATE TRIGGER "products_version"
  BEFORE UPDATE ON "products"
  FOR EACH ROW EXECUTE FUNCTION "bump_product_version"();
