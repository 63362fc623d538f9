import type { SqlRunner, Statement } from "../infra/db/client.js";
import type { EventData, EventType } from "./event-types.js";
import { TEST_EVENT_TYPE } from "./event-types.js";
import type { StreamPosition } from "./stream-cursor.js";

export interface StoredEvent {
  id: string;
  xid: string;
  type: EventType;
  occurredAt: Date;
  data: EventData;
}

/**
 * The events after a position, in (xid, id) order, only of transactions older than the oldest
 * still running: every transaction with a smaller id has ended, so no event can appear later
 * before the last one listed. (Ordering by id or by a sequence alone would let a transaction
 * that commits after a reader passed its id be skipped forever.) ORDER BY names the table's
 * columns: a bare `xid` would be the selected `xid::text`, sorted as text (10 before 9).
 * $1, $2: the position (null: from the start), $3: the types (null: all), $4: the page size.
 */
const EVENTS_AFTER: Statement = {
  text: `
SELECT id, xid::text AS xid, type, occurred_at AS "occurredAt", data FROM events
WHERE ($1::bigint IS NULL OR (xid, id) > ($1::bigint, $2::uuid))
  AND xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
  AND (CASE WHEN $3::text[] IS NULL THEN type <> '${TEST_EVENT_TYPE}' ELSE type = ANY ($3::text[]) END)
ORDER BY events.xid, events.id
LIMIT $4`,
  model: "Event",
  operation: "streamPage",
  // No name: the types filter changes the best plan (the (type, xid, id) index or the (xid, id) one),
  // so it is planned for its values every time.
};

export class EventsRepository {
  private readonly sql: SqlRunner;

  constructor(sql: SqlRunner) {
    this.sql = sql;
  }

  page(after: StreamPosition | undefined, types: readonly EventType[] | undefined, limit: number): Promise<StoredEvent[]> {
    return this.sql<StoredEvent>(EVENTS_AFTER, [after?.xid ?? null, after?.id ?? null, types?.length ? types : null, limit]);
  }

  /**
   * Forgets events older than the retention, and their deliveries: a delivery is created with its
   * event (created_at = occurred_at), so the same cutoff removes both, in one statement. The
   * deliveries are found per endpoint by the (endpoint_id, created_at) index (every delivery has
   * its endpoint); they have no foreign key to their event, which would cost an index of its own.
   */
  async purge(retentionDays: number): Promise<number> {
    const rows = await this.sql<{ count: number }>(
      {
        text: `
WITH deliveries AS (
  DELETE FROM webhook_deliveries d USING webhook_endpoints w
  WHERE d.endpoint_id = w.id AND d.created_at < now() - $1::float8 * interval '1 day'
), gone AS (DELETE FROM events WHERE occurred_at < now() - $1::float8 * interval '1 day' RETURNING 1)
SELECT count(*)::int AS count FROM gone`,
        model: "Event",
        operation: "purge",
      },
      [retentionDays],
    );
    return rows[0]!.count;
  }
}
