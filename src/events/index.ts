import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Feature } from "../infra/feature.js";
import { DeliveriesRepository } from "./deliveries-repository.js";
import { EndpointsRepository } from "./endpoints-repository.js";
import { EventsRepository } from "./events-repository.js";
import { eventHandlers } from "./handlers.js";
import { WebhookDispatcher } from "./webhook-dispatcher.js";
import { webhookHandlers } from "./webhook-handlers.js";
import { parseSchedule } from "./webhook-schedule.js";

export { EVENT_TYPES, type EventData, type EventType } from "./event-types.js";
export { lockResourceEvents, pendingEvent, recordEvent, recordEventCall, transactionWithEvents } from "./outbox.js";

declare module "fastify" {
  interface FastifyInstance {
    events: { events: EventsRepository; endpoints: EndpointsRepository; deliveries: DeliveriesRepository; dispatcher: WebhookDispatcher };
  }
}

const PURGE_INTERVAL_MS = 60 * 60 * 1000;

const eventsPlugin = fp(
  async (app: FastifyInstance) => {
    const { config, database, serviceMetrics } = app;
    const deliveries = new DeliveriesRepository(database.query);
    const dispatcher = new WebhookDispatcher({
      deliveries,
      log: app.log,
      concurrency: config.WEBHOOK_CONCURRENCY,
      pollMs: config.WEBHOOK_POLL_MS,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      schedule: parseSchedule(config.WEBHOOK_RETRY_SCHEDULE_MS),
      disableAfterMs: config.WEBHOOK_DISABLE_AFTER_MS,
      allowPrivate: config.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
      onAttempt: serviceMetrics.webhooks.attempt,
    });
    app.decorate("events", { events: new EventsRepository(database.query), endpoints: new EndpointsRepository(database.prisma), deliveries, dispatcher });
    serviceMetrics.webhooks.watchBacklog(() => deliveries.backlog());
    // Every process sends: the database shares the work out. Stopped before the database closes.
    app.addHook("onReady", async () => dispatcher.start());
    app.addHook("onClose", () => dispatcher.stop());
  },
  { name: "events", dependencies: ["database", "metrics", "config"], fastify: "5.x" },
);

/** The transactional outbox (every change of an order or a product), the stream to pull it from, and webhooks to push it. */
export const events: Feature = {
  name: "events",
  plugin: eventsPlugin,
  handlers: (app) => ({ ...eventHandlers(app.events), ...webhookHandlers({ ...app.events, config: app.config }) }),
  jobs: (app) => [{ name: "event-purge", intervalMs: PURGE_INTERVAL_MS, run: () => app.events.events.purge(app.config.EVENT_RETENTION_DAYS) }],
};
