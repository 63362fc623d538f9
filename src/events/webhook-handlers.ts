import type { WebhookEndpoint } from "../../generated/prisma/client.js";
import { AppError, invalidFields, notFound } from "../errors/app-error.js";
import type { Config } from "../infra/config.js";
import type { HandlersFor, Wire } from "../infra/http/operation-types.js";
import { pageLinks, pageRequest } from "../infra/http/pagination.js";
import type { DeliveryRecord, EndpointsRepository } from "./endpoints-repository.js";
import type { EventType } from "./event-types.js";
import { urlRefusal } from "./webhook-address.js";
import type { WebhookDispatcher } from "./webhook-dispatcher.js";

type WebhookHandlers = HandlersFor<
  | "listWebhooks"
  | "createWebhook"
  | "getWebhook"
  | "updateWebhook"
  | "deleteWebhook"
  | "rotateWebhookSecret"
  | "sendTestWebhook"
  | "listWebhookDeliveries"
  | "retryWebhookDelivery"
>;

function toWebhookBody(endpoint: WebhookEndpoint): Wire<"Webhook"> {
  return {
    id: endpoint.id,
    url: endpoint.url,
    event_types: endpoint.eventTypes as EventType[],
    enabled: endpoint.enabled,
    disabled_reason: endpoint.disabledReason as Wire<"Webhook">["disabled_reason"],
    previous_secret_expires_at: endpoint.previousSecret && endpoint.previousSecretExpiresAt ? endpoint.previousSecretExpiresAt.toISOString() : null,
    created_at: endpoint.createdAt.toISOString(),
    updated_at: endpoint.updatedAt.toISOString(),
  };
}

function toDeliveryBody(delivery: DeliveryRecord): Wire<"WebhookDelivery"> {
  return {
    id: delivery.id,
    event_id: delivery.eventId,
    event_type: delivery.event.type,
    status: delivery.status as Wire<"DeliveryStatus">,
    attempts: delivery.attempts,
    last_response_code: delivery.lastResponseCode,
    last_duration_ms: delivery.lastDurationMs,
    last_error: delivery.lastError,
    next_attempt_at: delivery.nextAttemptAt?.toISOString() ?? null,
    created_at: delivery.createdAt.toISOString(),
    delivered_at: delivery.deliveredAt?.toISOString() ?? null,
  };
}

const webhookNotFound = (id: string) => notFound("Webhook", id);

export function webhookHandlers(deps: { endpoints: EndpointsRepository; dispatcher: WebhookDispatcher; config: Config }): WebhookHandlers {
  const { endpoints, dispatcher, config } = deps;
  const policy = { requireHttps: config.WEBHOOK_REQUIRE_HTTPS, allowPrivate: config.WEBHOOK_ALLOW_PRIVATE_NETWORKS };
  const checkUrl = (url: string | undefined) => {
    const refusal = url === undefined ? null : urlRefusal(url, policy);
    if (refusal) throw invalidFields([{ field: ["url"], code: "url-not-allowed", message: refusal }]);
  };
  const found = <T>(id: string, value: T | null): T => {
    if (value === null) throw webhookNotFound(id);
    return value;
  };

  return {
    async listWebhooks(request) {
      const { limit, offset } = pageRequest(request.query);
      const { count, rows } = await endpoints.page(limit, offset);
      return { ...pageLinks(request, count, limit, offset), results: rows.map(toWebhookBody) };
    },

    async createWebhook(request, reply) {
      const { url, event_types } = request.body;
      checkUrl(url);
      const endpoint = await endpoints.create(url, event_types);
      reply.code(201).header("location", `/api/webhook/${endpoint.id}`);
      return { ...toWebhookBody(endpoint), secret: endpoint.secret };
    },

    async getWebhook(request) {
      return toWebhookBody(found(request.params.id, await endpoints.find(request.params.id)));
    },

    async updateWebhook(request) {
      const { url, event_types, enabled } = request.body;
      checkUrl(url);
      const endpoint = found(request.params.id, await endpoints.update(request.params.id, { url, eventTypes: event_types, enabled }));
      if (enabled) dispatcher.nudge();
      return toWebhookBody(endpoint);
    },

    async deleteWebhook(request, reply) {
      if (!(await endpoints.delete(request.params.id))) throw webhookNotFound(request.params.id);
      reply.code(204);
    },

    async rotateWebhookSecret(request) {
      const endpoint = found(request.params.id, await endpoints.rotateSecret(request.params.id, config.WEBHOOK_SECRET_OVERLAP_MS));
      return { ...toWebhookBody(endpoint), secret: endpoint.secret };
    },

    async sendTestWebhook(request, reply) {
      const delivery = found(request.params.id, await endpoints.sendTest(request.params.id));
      dispatcher.nudge();
      reply.code(202);
      return toDeliveryBody(delivery);
    },

    async listWebhookDeliveries(request) {
      const { id } = request.params;
      const { limit, offset } = pageRequest(request.query);
      found(id, await endpoints.find(id));
      const { count, rows } = await endpoints.deliveries(id, request.query.status, limit, offset);
      return { ...pageLinks(request, count, limit, offset), results: rows.map(toDeliveryBody) };
    },

    async retryWebhookDelivery(request, reply) {
      const { id, delivery_id } = request.params;
      const result = await endpoints.retry(id, delivery_id);
      if (result === null) throw notFound(`Delivery of webhook ${id}`, delivery_id);
      if (result === "pending") {
        throw new AppError("delivery-pending", `Delivery ${delivery_id} is still pending; it will be tried again without being asked.`);
      }
      dispatcher.nudge();
      reply.code(202);
      return toDeliveryBody(result);
    },
  };
}
