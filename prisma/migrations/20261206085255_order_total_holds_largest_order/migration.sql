-- The largest order openapi.yaml allows (100 lines of 10000 units at 9999999.999) totals 9999999999000.000:
-- 13 digits before the point. Widening a numeric keeps every row as it is (no table rewrite).
-- AlterTable
ALTER TABLE "orders" ALTER COLUMN "total" SET DATA TYPE DECIMAL(16,3);
