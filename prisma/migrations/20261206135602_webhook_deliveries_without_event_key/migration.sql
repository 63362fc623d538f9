-- DropForeignKey
ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "webhook_deliveries_event_id_fkey";

-- DropIndex
DROP INDEX "webhook_deliveries_event_id_idx";
