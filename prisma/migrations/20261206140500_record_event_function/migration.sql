-- Hand-written (Prisma's schema cannot express functions).
-- The outbox's write (src/events/outbox.ts) as a function: a statement sent by the application is
-- planned at every execution (Prisma sends unnamed statements), and planning this one cost several
-- times its execution, on every change whether or not a webhook endpoint is subscribed. Inside a
-- PL/pgSQL function the plan is kept for the connection's life. A change to it is a new migration.

-- Which database a statement runs on: its name and its server's start (a restarted or another
-- server differs), whatever the session's settings. A dispatcher takes deliveries at insert only
-- when the writing transaction's database is its own.
CREATE FUNCTION "webhook_database_identity"() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT current_database() || ' ' || extract(epoch FROM pg_postmaster_start_time())::text
$$;

-- Writes the event and one pending delivery per enabled endpoint subscribed to its type, in the
-- caller's transaction (xid: the writing transaction's id, the event stream's order). A delivery
-- is written already leased to a dispatcher of the calling process (takers: the databases of
-- those with room, leases: their leases in ms), its first attempt claimed, unless none of them is
-- on this database or an earlier delivery of the same resource to that endpoint is still pending
-- (then it waits for it and is claimed as usual). A delivery's created_at is its event's
-- occurred_at (the purge removes both by it). Answers the deliveries written (taker: the
-- dispatcher's position in takers, or null) with what the taker needs to send them, the data as
-- stored (jsonb orders keys: the first attempt's body is then the same as every retry's).
CREATE FUNCTION "record_event"(p_id uuid, p_type text, p_resource text, p_data jsonb, p_takers text[], p_leases int[])
RETURNS TABLE (
  "id" uuid, "taker" int, "xid" text, "occurredAt" timestamptz, "data" jsonb, "endpointId" uuid, "url" varchar, "secret" varchar,
  "previousSecret" varchar, "previousSecretExpiresAt" timestamptz
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH event AS (
    INSERT INTO events (id, xid, type, resource, data)
    VALUES (p_id, pg_current_xact_id()::text::bigint, p_type, p_resource, p_data)
    RETURNING events.id, events.xid, events.resource, events.occurred_at, events.data
  ), here AS (
    SELECT array_position(p_takers, webhook_database_identity()) AS taker
  ), target AS (
    SELECT w.id, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at,
      CASE WHEN NOT EXISTS (
        SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = w.id AND p.resource = p_resource AND p.status = 'pending'
      ) THEN here.taker END AS taker
    FROM webhook_endpoints w, here
    WHERE w.enabled AND p_type = ANY (w.event_types)
  ), queued AS (
    INSERT INTO webhook_deliveries (endpoint_id, event_id, event_xid, resource, created_at, attempts, next_attempt_at)
    SELECT target.id, event.id, event.xid, event.resource, event.occurred_at, CASE WHEN target.taker IS NULL THEN 0 ELSE 1 END,
      now() + coalesce(p_leases[target.taker], 0) * interval '1 millisecond'
    FROM event, target
    RETURNING webhook_deliveries.id, webhook_deliveries.endpoint_id
  )
  SELECT queued.id, target.taker, event.xid::text, event.occurred_at::timestamptz, event.data, target.id, target.url, target.secret,
    target.previous_secret, target.previous_secret_expires_at::timestamptz
  FROM queued JOIN target ON target.id = queued.endpoint_id CROSS JOIN event;
END
$$;
