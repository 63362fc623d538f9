-- Hand-written (Prisma's schema cannot express statistics targets).
-- How many products a keyword matches decides the plan of a filtered page: walk the primary key
-- until the page is full when matches are common, use the trigram index when they are rare. With
-- the default 100-entry histogram of names, the estimate for ILIKE '%tea%' swings between 0.01 %
-- and 3 % from one ANALYZE to the next, and the wrong plan costs 100 times more. 1000 entries
-- keep it close.
ALTER TABLE "products" ALTER COLUMN "name" SET STATISTICS 1000;
