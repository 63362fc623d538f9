import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { ensureDefaultAdmin } from "../domain/default-admin.js";
import { OrdersRepository } from "../domain/orders.js";
import { ProductsRepository } from "../domain/products.js";
import { TokenService } from "../domain/tokens.js";
import { UsersRepository } from "../domain/users.js";
import { jwtSigner } from "../http/jwt-signer.js";

export interface Repositories {
  users: UsersRepository;
  products: ProductsRepository;
  orders: OrdersRepository;
  tokens: TokenService;
}

declare module "fastify" {
  interface FastifyInstance {
    repositories: Repositories;
  }
}

/**
 * The domain's repositories on the app's database, and the token service on its JWT signer.
 * When ADMIN_PASSWORD is set (always outside production), the `admin` account is created here
 * if missing, before the app serves anything.
 */
export const repositoriesPlugin = fp(
  async (app: FastifyInstance) => {
    const { config, database } = app;
    const users = new UsersRepository(database.prisma);
    app.decorate("repositories", {
      users,
      products: new ProductsRepository(database.prisma, database.query, { onCoalescedRead: app.serviceMetrics.coalescedReads }),
      orders: new OrdersRepository(database.prisma),
      tokens: new TokenService(jwtSigner(app.jwt), database.prisma, {
        accessSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
        refreshSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
      }),
    });
    if (config.ADMIN_PASSWORD) await ensureDefaultAdmin(users, config.ADMIN_PASSWORD);
  },
  { name: "repositories", dependencies: ["config", "database", "jwt", "metrics"], fastify: "5.x" },
);
