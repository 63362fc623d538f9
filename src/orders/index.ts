import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Feature } from "../infra/feature.js";
import { orderHandlers, toOrderBody } from "./handlers.js";
import { OrdersRepository } from "./orders-repository.js";

declare module "fastify" {
  interface FastifyInstance {
    orders: { orders: OrdersRepository };
  }
}

const IDEMPOTENCY_PURGE_INTERVAL_MS = 60 * 60 * 1000;

const ordersPlugin = fp(
  async (app: FastifyInstance) => {
    app.decorate("orders", { orders: new OrdersRepository(app.database.prisma, toOrderBody) });
  },
  { name: "orders", dependencies: ["database"], fastify: "5.x" },
);

export const orders: Feature = {
  name: "orders",
  plugin: ordersPlugin,
  handlers: (app) => orderHandlers({ orders: app.orders.orders, events: app.serviceMetrics.orderEvents }),
  jobs: (app) => [{ name: "idempotency-purge", intervalMs: IDEMPOTENCY_PURGE_INTERVAL_MS, run: () => app.orders.orders.purgeIdempotencyKeys() }],
};
