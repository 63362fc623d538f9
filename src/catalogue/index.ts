import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Feature } from "../infra/feature.js";
import { productHandlers, toProductBody } from "./handlers.js";
import { PRODUCTS_CHANGED_CHANNEL, ProductsRepository } from "./products-repository.js";

declare module "fastify" {
  interface FastifyInstance {
    catalogue: { products: ProductsRepository };
  }
}

/**
 * The embedded database runs one statement at a time: with two statements of reads by id in flight
 * it always has the next one at hand, while the reads that arrive meanwhile gather into the one
 * after (about 8 % more reads by id per second than with no bound; docs/reference/performance.md).
 */
const EMBEDDED_READS_IN_FLIGHT = 2;

/** The products on the app's database; a product write in another process drops this one's cached counts and pages. */
const cataloguePlugin = fp(
  async (app: FastifyInstance) => {
    const { database, serviceMetrics } = app;
    const products = new ProductsRepository(database.prisma, database.readQuery, {
      wire: toProductBody,
      onCoalescedRead: serviceMetrics.coalescedReads,
      readsFromPrimary: database.readsFromPrimary,
      readsInFlight: database.oneStatementAtATime ? EMBEDDED_READS_IN_FLIGHT : undefined,
    });
    app.decorate("catalogue", { products });
    app.coordination?.onChange(PRODUCTS_CHANGED_CHANNEL, () => products.invalidateLists());
  },
  { name: "catalogue", dependencies: ["database", "metrics", "coordination"], fastify: "5.x" },
);

export const catalogue: Feature = {
  name: "catalogue",
  plugin: cataloguePlugin,
  handlers: (app) => productHandlers(app.catalogue),
  channels: [PRODUCTS_CHANGED_CHANNEL],
};
