import { v7 as uuidv7 } from "uuid";
import type { PrismaClient, WebhookDelivery, WebhookEndpoint } from "../../generated/prisma/client.js";
import { recordEvent, transactionWithEvents } from "./outbox.js";
import { TEST_EVENT_TYPE } from "./event-types.js";
import { newSecret } from "./webhook-signing.js";

export type DeliveryRecord = WebhookDelivery & { event: { type: string } };

export interface EndpointChanges {
  url?: string;
  eventTypes?: string[];
  enabled?: boolean;
}

/** Webhook endpoints and their delivery logs, as the admins manage them. */
export class EndpointsRepository {
  private readonly db: PrismaClient;

  constructor(db: PrismaClient) {
    this.db = db;
  }

  create(url: string, eventTypes: string[]): Promise<WebhookEndpoint> {
    return this.db.webhookEndpoint.create({ data: { id: uuidv7(), url, eventTypes, secret: newSecret() } });
  }

  async page(limit: number, offset: number): Promise<{ count: number; rows: WebhookEndpoint[] }> {
    const [count, rows] = await Promise.all([
      this.db.webhookEndpoint.count(),
      limit === 0 ? [] : this.db.webhookEndpoint.findMany({ orderBy: { id: "asc" }, take: limit, skip: offset }),
    ]);
    return { count, rows };
  }

  find(id: string): Promise<WebhookEndpoint | null> {
    return this.db.webhookEndpoint.findUnique({ where: { id } });
  }

  /** Null when it does not exist. Enabling clears the reason the service disabled it and its failing streak. */
  async update(id: string, changes: EndpointChanges): Promise<WebhookEndpoint | null> {
    const enabling = changes.enabled === true ? { disabledReason: null, failingSince: null } : {};
    const disabling = changes.enabled === false ? { disabledReason: null } : {};
    const { count } = await this.db.webhookEndpoint.updateMany({ where: { id }, data: { ...changes, ...enabling, ...disabling } });
    return count === 1 ? this.find(id) : null;
  }

  async delete(id: string): Promise<boolean> {
    const { count } = await this.db.webhookEndpoint.deleteMany({ where: { id } });
    return count === 1;
  }

  /** A new secret; the current one keeps signing too for `overlapMs`. Null when it does not exist. */
  async rotateSecret(id: string, overlapMs: number): Promise<WebhookEndpoint | null> {
    const [row] = await this.db.$queryRaw<{ id: string }[]>`
      UPDATE webhook_endpoints SET previous_secret = secret, secret = ${newSecret()},
        previous_secret_expires_at = now() + ${overlapMs}::bigint * interval '1 millisecond', updated_at = now()
      WHERE id = ${id}::uuid RETURNING id`;
    return row ? this.find(id) : null;
  }

  /** Queues a `webhook.test` event for this endpoint alone. Null when it does not exist. */
  async sendTest(id: string): Promise<DeliveryRecord | null> {
    return transactionWithEvents(this.db, async (tx) => {
      // Locked against removal until this transaction ends: removed in between, the delivery's
      // foreign key would fail the request; removed before, it is not found.
      const [endpoint] = await tx.$queryRaw<{ id: string; url: string }[]>`SELECT id::text, url FROM webhook_endpoints WHERE id = ${id}::uuid FOR KEY SHARE`;
      if (!endpoint) return null;
      const eventId = await recordEvent(tx, TEST_EVENT_TYPE, { id: endpoint.id, url: endpoint.url });
      const event = await tx.event.findUniqueOrThrow({ where: { id: eventId } });
      const delivery = await tx.webhookDelivery.create({
        // created_at: its event's time, by which the purge removes both.
        data: { endpointId: id, eventId, eventXid: event.xid, resource: event.resource, createdAt: event.occurredAt, nextAttemptAt: new Date() },
      });
      return { ...delivery, event: { type: event.type } };
    });
  }

  async deliveries(endpointId: string, status: string | undefined, limit: number, offset: number): Promise<{ count: number; rows: DeliveryRecord[] }> {
    const where = { endpointId, ...(status ? { status } : {}) };
    const [count, rows] = await Promise.all([
      this.db.webhookDelivery.count({ where }),
      limit === 0
        ? []
        : this.db.webhookDelivery.findMany({ where, orderBy: [{ createdAt: "desc" }, { eventXid: "desc" }, { id: "desc" }], take: limit, skip: offset }),
    ]);
    const events =
      rows.length === 0
        ? []
        : await this.db.event.findMany({ where: { id: { in: [...new Set(rows.map((row) => row.eventId))] } }, select: { id: true, type: true } });
    const types = new Map(events.map((event) => [event.id, event.type]));
    return {
      count,
      rows: rows.map((row) => {
        // The purge removes a delivery with its event, in one statement.
        const type = types.get(row.eventId);
        if (type === undefined) throw new Error(`delivery ${row.id} has no event ${row.eventId}`);
        return { ...row, event: { type } };
      }),
    };
  }

  /**
   * Queues a delivered or failed delivery again from its first attempt. "pending" when it still
   * is (it will be tried anyway), null when there is no such delivery of this endpoint.
   */
  async retry(endpointId: string, deliveryId: string): Promise<DeliveryRecord | "pending" | null> {
    // One statement: the answer is the delivery as queued, before a dispatcher can claim it.
    const [queued] = await this.db.$queryRaw<{ id: string }[]>`
      UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), delivered_at = NULL
      WHERE id = ${deliveryId}::uuid AND endpoint_id = ${endpointId}::uuid AND status IN ('delivered', 'failed')
      RETURNING id, endpoint_id AS "endpointId", event_id AS "eventId", event_xid AS "eventXid", resource, status, attempts,
        next_attempt_at AS "nextAttemptAt", last_response_code AS "lastResponseCode", last_duration_ms AS "lastDurationMs",
        last_error AS "lastError", created_at AS "createdAt", delivered_at AS "deliveredAt",
        (SELECT json_build_object('type', type) FROM events WHERE id = event_id) AS event`;
    if (queued) return queued as unknown as DeliveryRecord;
    const exists = await this.db.webhookDelivery.count({ where: { id: deliveryId, endpointId } });
    return exists === 1 ? "pending" : null;
  }
}
