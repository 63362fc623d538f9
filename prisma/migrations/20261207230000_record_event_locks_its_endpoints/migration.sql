-- Hand-written (Prisma's schema cannot express functions).
-- record_event as before (see 20261206165000_record_event_one_value), but it locks the endpoints it
-- writes deliveries for (FOR KEY SHARE, the lock the deliveries' foreign key takes anyway). Before,
-- it chose them in its statement's snapshot, and the foreign key's check at the statement's end
-- looked again: an endpoint removed in between (its DELETE committed, or waiting on that check's
-- lock) failed the change with a foreign key violation, which an order answered as 401 "User not
-- found". Now the removal either waits for the change to commit (and cascades to its deliveries)
-- or has committed before the lock, and the endpoint is passed over.
CREATE OR REPLACE FUNCTION "record_event"(p_id uuid, p_type text, p_resource text, p_data jsonb, p_takers text[], p_leases int[])
RETURNS SETOF text LANGUAGE plpgsql AS $$
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
    FOR KEY SHARE OF w
  ), queued AS (
    INSERT INTO webhook_deliveries (endpoint_id, event_id, event_xid, resource, created_at, attempts, next_attempt_at)
    SELECT target.id, event.id, event.xid, event.resource, event.occurred_at, CASE WHEN target.taker IS NULL THEN 0 ELSE 1 END,
      now() + coalesce(p_leases[target.taker], 0) * interval '1 millisecond'
    FROM event, target
    RETURNING webhook_deliveries.id, webhook_deliveries.endpoint_id
  )
  SELECT json_build_object(
    'xid', event.xid::text,
    'occurredAt', event.occurred_at,
    'data', event.data::text,
    'deliveries', json_agg(json_build_object(
      'id', queued.id, 'taker', target.taker, 'endpointId', target.id, 'url', target.url, 'secret', target.secret,
      'previousSecret', target.previous_secret, 'previousSecretExpiresAt', target.previous_secret_expires_at)))::text
  FROM queued JOIN target ON target.id = queued.endpoint_id CROSS JOIN event
  GROUP BY event.xid, event.occurred_at, event.data;
END
$$;
