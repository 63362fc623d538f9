import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Feature } from "../infra/feature.js";
import { EventsRepository } from "./events-repository.js";
import { eventHandlers } from "./handlers.js";

export { EVENT_TYPES, type EventData, type EventType } from "./event-types.js";
export { lockResourceEvents, recordEvent } from "./outbox.js";

declare module "fastify" {
  interface FastifyInstance {
    events: { events: EventsRepository };
  }
}

const PURGE_INTERVAL_MS = 60 * 60 * 1000;

const eventsPlugin = fp(
  async (app: FastifyInstance) => {
    app.decorate("events", { events: new EventsRepository(app.database.query) });
  },
  { name: "events", dependencies: ["database"], fastify: "5.x" },
);

/** The transactional outbox (every change of an order or a product) and the stream to pull it from. */
export const events: Feature = {
  name: "events",
  plugin: eventsPlugin,
  handlers: (app) => eventHandlers(app.events),
  jobs: (app) => [{ name: "event-purge", intervalMs: PURGE_INTERVAL_MS, run: () => app.events.events.purge(app.config.EVENT_RETENTION_DAYS) }],
};
