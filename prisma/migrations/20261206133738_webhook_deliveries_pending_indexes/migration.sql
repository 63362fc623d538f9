-- DropIndex
DROP INDEX "webhook_deliveries_status_next_attempt_at_idx";

-- DropIndex
DROP INDEX "webhook_deliveries_endpoint_id_resource_event_xid_event_id_idx";

-- CreateIndex
CREATE INDEX "webhook_deliveries_pending_next_attempt_at_idx" ON "webhook_deliveries"("next_attempt_at") WHERE ((status)::text = 'pending'::text);

-- CreateIndex
CREATE INDEX "webhook_deliveries_pending_resource_idx" ON "webhook_deliveries"("endpoint_id", "resource", "event_xid", "event_id") WHERE ((status)::text = 'pending'::text);
