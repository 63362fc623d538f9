import client from "prom-client";
import type pg from "pg";
import type { PlacedOrder } from "../domain/orders.js";
import type { OrderEvents } from "../handlers/orders.js";

/**
 * One registry per app instance (tests build many apps in one process), holding the business
 * counters and database metrics; fastify-metrics adds the per-route and process metrics to it.
 */
export interface Metrics {
  registry: client.Registry;
  orderEvents: OrderEvents;
  observeQuery(model: string, operation: string, seconds: number): void;
  watchPool(pool: pg.Pool): void;
}

export function createMetrics(): Metrics {
  const registry = new client.Registry();
  const registers = [registry];

  const ordersPlaced = new client.Counter({ name: "orders_placed_total", help: "Orders placed.", registers });
  const ordersDeclined = new client.Counter({
    name: "orders_declined_total",
    help: "Orders refused, by reason (insufficient-stock is a stock-out).",
    labelNames: ["reason"],
    registers,
  });
  const unitsSold = new client.Counter({ name: "order_units_sold_total", help: "Units sold across all orders.", registers });
  const queryDuration = new client.Histogram({
    name: "db_query_duration_seconds",
    help: "Duration of database operations issued through Prisma.",
    labelNames: ["model", "operation"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const pools: pg.Pool[] = [];
  new client.Gauge({
    name: "db_pool_connections",
    help: "Database pool connections by state.",
    labelNames: ["state"],
    registers,
    collect() {
      const sum = (pick: (pool: pg.Pool) => number) => pools.reduce((total, pool) => total + pick(pool), 0);
      this.set({ state: "total" }, sum((p) => p.totalCount));
      this.set({ state: "idle" }, sum((p) => p.idleCount));
      this.set({ state: "waiting" }, sum((p) => p.waitingCount));
    },
  });

  return {
    registry,
    orderEvents: {
      placed(result: PlacedOrder) {
        ordersPlaced.inc();
        unitsSold.inc(result.unitsSold);
      },
      declined(reason: string) {
        ordersDeclined.inc({ reason });
      },
    },
    observeQuery(model, operation, seconds) {
      queryDuration.observe({ model, operation }, seconds);
    },
    watchPool(pool) {
      pools.push(pool);
    },
  };
}
