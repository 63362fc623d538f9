import type { SqlRunner, Statement } from "../infra/db/client.js";

/** A delivery claimed for one attempt, with what it sends and where. */
export interface ClaimedDelivery {
  id: string;
  /** This attempt's number (1 for the first). */
  attempt: number;
  eventId: string;
  type: string;
  occurredAt: Date;
  /** The event's data as stored (the text of its jsonb): every attempt's body carries these same bytes. */
  data: string;
  endpointId: string;
  url: string;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
}

/** The state of transactions by id: 'committed', 'aborted', 'in progress' (null: too old to know). $1: their ids. */
const TRANSACTION_STATUSES: Statement = {
  text: "SELECT x AS xid, pg_xact_status(x::xid8) AS status FROM unnest($1::text[]) AS x",
  name: "webhook_transaction_statuses",
  model: "WebhookDelivery",
  operation: "transactionStatuses",
};

/**
 * Claims due deliveries for one attempt each: pending, due, of an enabled endpoint, and with no
 * earlier event of the same resource still pending for that endpoint (an order's `created`
 * reaches an endpoint before its `cancelled`). SKIP LOCKED lets every process claim at once
 * without taking the same rows; the claim moves next_attempt_at past the attempt's timeout (a
 * lease), so no other process takes it while it is in flight, and a process that dies mid-way
 * leaves it to be tried again once the lease has passed (at least once).
 * $1: how many, $2: the lease in milliseconds.
 */
const CLAIM: Statement = {
  text: `
WITH due AS (
  SELECT d.id FROM webhook_deliveries d
  JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled
  WHERE d.status = 'pending' AND d.next_attempt_at <= now()
    AND NOT EXISTS (
      SELECT 1 FROM webhook_deliveries p
      WHERE p.endpoint_id = d.endpoint_id AND p.resource = d.resource AND p.status = 'pending'
        AND (p.event_xid, p.event_id) < (d.event_xid, d.event_id))
  ORDER BY d.next_attempt_at
  LIMIT $1
  FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = now() + $2::int * interval '1 millisecond'
FROM due, events e, webhook_endpoints w
WHERE d.id = due.id AND e.id = d.event_id AND w.id = d.endpoint_id
RETURNING d.id, d.attempts AS attempt, d.event_id AS "eventId", e.type, e.occurred_at AS "occurredAt", e.data::text AS data, w.id AS "endpointId", w.url,
  w.secret, w.previous_secret AS "previousSecret", w.previous_secret_expires_at AS "previousSecretExpiresAt"`,
  name: "webhook_claim",
  model: "WebhookDelivery",
  operation: "claim",
};

/**
 * 2xx answers: delivered; their endpoints are no longer failing. One statement for a batch of
 * attempts (their ids, attempt numbers, statuses and durations as arrays); an attempt whose lease
 * another process took over meanwhile (a newer attempt number) is not recorded. The endpoints are
 * locked in id order, so two processes recording at once cannot deadlock on them.
 */
const DELIVERED: Statement = {
  text: `
WITH d AS (
  UPDATE webhook_deliveries d SET status = 'delivered', delivered_at = now(), next_attempt_at = NULL,
    last_response_code = o.status, last_duration_ms = o.duration_ms, last_error = NULL
  FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[]) AS o(id, attempt, status, duration_ms)
  WHERE d.id = o.id AND d.attempts = o.attempt AND d.status = 'pending'
  RETURNING d.endpoint_id
), recovered AS (
  SELECT w.id FROM webhook_endpoints w
  WHERE w.id IN (SELECT endpoint_id FROM d) AND w.failing_since IS NOT NULL
  ORDER BY w.id FOR UPDATE
)
UPDATE webhook_endpoints w SET failing_since = NULL FROM recovered WHERE w.id = recovered.id`,
  name: "webhook_delivered",
  model: "WebhookDelivery",
  operation: "delivered",
};

/**
 * A failed attempt: tried again after $5 ms, or failed for good when $5 is null. The endpoint is
 * failing since its first failure without a success since; it is disabled when it answered 410
 * ($6) or has been failing longer than $7 ms.
 * $1: id, $2: attempt, $3: status or null, $4: duration, $5: delay, $6: gone, $7: disable after, $8: error.
 * Answers the endpoint's state after it, when the attempt was still this process's to record.
 */
const FAILED: Statement = {
  text: `
WITH d AS (
  UPDATE webhook_deliveries SET
    status = CASE WHEN $5::int IS NULL OR $6::boolean THEN 'failed' ELSE 'pending' END,
    next_attempt_at = CASE WHEN $5::int IS NULL OR $6::boolean THEN NULL ELSE now() + $5::int * interval '1 millisecond' END,
    last_response_code = $3::int, last_duration_ms = $4::int, last_error = left($8::text, 500)
  WHERE id = $1::uuid AND attempts = $2::int AND status = 'pending'
  RETURNING endpoint_id
), disable AS (
  SELECT w.id, CASE WHEN $6::boolean THEN 'gone'
    WHEN coalesce(w.failing_since, now()) < now() - $7::bigint * interval '1 millisecond' THEN 'failing' END AS reason
  FROM webhook_endpoints w JOIN d ON w.id = d.endpoint_id
)
UPDATE webhook_endpoints w SET failing_since = coalesce(w.failing_since, now()),
  enabled = w.enabled AND disable.reason IS NULL,
  disabled_reason = CASE WHEN w.enabled AND disable.reason IS NOT NULL THEN disable.reason ELSE w.disabled_reason END,
  updated_at = CASE WHEN w.enabled AND disable.reason IS NOT NULL THEN now() ELSE w.updated_at END
FROM disable WHERE w.id = disable.id
RETURNING w.enabled, w.disabled_reason AS "disabledReason"`,
  name: "webhook_failed",
  model: "WebhookDelivery",
  operation: "failed",
};

export type TransactionStatus = "committed" | "aborted" | "in progress";

/** An attempt the endpoint answered with a 2xx. */
export interface DeliveredAttempt {
  id: string;
  attempt: number;
  status: number;
  durationMs: number;
}

export interface FailedAttempt {
  status?: number;
  durationMs: number;
  error?: string;
  /** Null: that was the last attempt. */
  delayMs: number | null;
  gone: boolean;
  disableAfterMs: number;
}

export class DeliveriesRepository {
  private readonly sql: SqlRunner;

  constructor(sql: SqlRunner) {
    this.sql = sql;
  }

  /** Which database this is (a function of the migrations: the outbox's write compares it). */
  async databaseIdentity(): Promise<string> {
    const [row] = await this.sql<{ identity: string }>(
      { text: "SELECT webhook_database_identity() AS identity", model: "WebhookDelivery", operation: "databaseIdentity" },
      [],
    );
    return row!.identity;
  }

  /** The transactions among `xids` that committed, aborted, or are still in progress (absent: unknown). */
  async transactionStatuses(xids: readonly string[]): Promise<Map<string, TransactionStatus>> {
    const rows = await this.sql<{ xid: string; status: TransactionStatus | null }>(TRANSACTION_STATUSES, [xids]);
    return new Map(rows.flatMap((row) => (row.status === null ? [] : [[row.xid, row.status] as const])));
  }

  claim(count: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    return this.sql<ClaimedDelivery>(CLAIM, [count, leaseMs]);
  }

  async delivered(attempts: readonly DeliveredAttempt[]): Promise<void> {
    await this.sql(DELIVERED, [attempts.map((a) => a.id), attempts.map((a) => a.attempt), attempts.map((a) => a.status), attempts.map((a) => a.durationMs)]);
  }

  /** Records a failed attempt; answers the endpoint's state when this attempt disabled it. */
  async failed(delivery: ClaimedDelivery, attempt: FailedAttempt): Promise<{ enabled: boolean; disabledReason: string | null } | undefined> {
    const [endpoint] = await this.sql<{ enabled: boolean; disabledReason: string | null }>(FAILED, [
      delivery.id,
      delivery.attempt,
      attempt.status ?? null,
      attempt.durationMs,
      attempt.delayMs,
      attempt.gone,
      attempt.disableAfterMs,
      attempt.error ?? (attempt.status === undefined ? null : `answered ${attempt.status}`),
    ]);
    return endpoint;
  }

  /** How many deliveries are pending, and how long the oldest due one has waited (seconds). */
  async backlog(): Promise<{ pending: number; oldestAgeSeconds: number; disabledEndpoints: number }> {
    const [row] = await this.sql<{ pending: number; oldestAgeSeconds: number; disabledEndpoints: number }>(
      {
        text: `SELECT
  (SELECT count(*)::int FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled WHERE d.status = 'pending') AS pending,
  coalesce((SELECT extract(epoch FROM now() - min(d.created_at))::float8 FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.enabled WHERE d.status = 'pending'), 0) AS "oldestAgeSeconds",
  (SELECT count(*)::int FROM webhook_endpoints WHERE NOT enabled) AS "disabledEndpoints"`,
        model: "WebhookDelivery",
        operation: "backlog",
      },
      [],
    );
    return row!;
  }
}
