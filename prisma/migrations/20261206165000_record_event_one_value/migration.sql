-- Hand-written (Prisma's schema cannot express functions).
-- record_event as before (see 20261206140500_record_event_function), but it answers one value per
-- event instead of a row per delivery: a JSON text with the event's xid, time and data (as the
-- text of the stored jsonb) and the deliveries written. The service paid for every column of every
-- row it received through Prisma, about as much as for the rest of taking the delivery; one text
-- it parses itself costs a fraction of that. The data as stored text is also what a claim answers
-- (deliveries-repository.ts), so the first attempt's body and every retry's are the same bytes.
-- No deliveries written: no row.
DROP FUNCTION "record_event"(uuid, text, text, jsonb, text[], int[]);

CREATE FUNCTION "record_event"(p_id uuid, p_type text, p_resource text, p_data jsonb, p_takers text[], p_leases int[])
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
