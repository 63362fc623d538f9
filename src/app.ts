import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import fastifyJwt from "@fastify/jwt";
import openapiGlue from "fastify-openapi-glue";
import type { Config } from "./config.js";
import type { DatabaseClient } from "./db/client.js";
import { OrdersRepository } from "./domain/orders.js";
import { ProductsRepository } from "./domain/products.js";
import { TokenService } from "./domain/tokens.js";
import { UsersRepository } from "./domain/users.js";
import { authHandlers } from "./handlers/auth.js";
import { healthHandlers, type Lifecycle } from "./handlers/health.js";
import { orderHandlers, type OrderEvents } from "./handlers/orders.js";
import { productHandlers } from "./handlers/products.js";
import { userHandlers } from "./handlers/users.js";
import { validatorCompiler } from "./http/ajv.js";
import { authenticateBeforeValidation, createSecurityHandlers } from "./http/authentication.js";
import { registerProblemHandlers } from "./http/error-handler.js";
import type { OperationHandlers } from "./http/operation-types.js";
import { loadSpec } from "./spec.js";

export interface AppOptions {
  config: Config;
  database: DatabaseClient;
  logger?: FastifyServerOptions["logger"];
  orderEvents?: OrderEvents;
}

declare module "fastify" {
  interface FastifyInstance {
    lifecycle: Lifecycle;
  }
}

/** Builds the HTTP application; server.ts decides where it listens and what it runs on. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, database } = options;
  const app = Fastify({
    logger: options.logger ?? { level: config.LOG_LEVEL },
    routerOptions: { ignoreTrailingSlash: true },
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY,
    requestIdHeader: "x-request-id",
  });
  app.setValidatorCompiler(validatorCompiler);
  // Only JSON bodies: anything else is a 415 problem, not a string that fails validation.
  app.removeContentTypeParser("text/plain");
  registerProblemHandlers(app);

  await app.register(fastifyJwt, {
    secret: config.JWT_SECRET,
    sign: { algorithm: "HS256" },
    verify: { algorithms: ["HS256"] },
  });

  const lifecycle: Lifecycle = { shuttingDown: false };
  app.decorate("lifecycle", lifecycle);

  const users = new UsersRepository(database.prisma);
  const products = new ProductsRepository(database.prisma);
  const orders = new OrdersRepository(database.prisma);
  const tokens = new TokenService(app.jwt, database.prisma, {
    accessSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    refreshSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
  });

  const handlers: OperationHandlers = {
    ...authHandlers({ users, tokens }),
    ...userHandlers({ users, tokens }),
    ...productHandlers({ products }),
    ...orderHandlers({ orders, events: options.orderEvents }),
    ...healthHandlers({ database, lifecycle }),
  };

  app.addHook("onRoute", authenticateBeforeValidation);
  await app.register(openapiGlue, {
    specification: loadSpec(),
    serviceHandlers: handlers,
    securityHandlers: createSecurityHandlers(tokens, users),
  });
  return app;
}
