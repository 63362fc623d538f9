import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../infra/config.js";

declare module "fastify" {
  interface FastifyInstance {
    config: Config;
  }
}

/** The validated configuration (src/infra/config.ts), for every plugin that needs a setting. */
export const configPlugin = fp(
  async (app: FastifyInstance, options: { config: Config }) => {
    app.decorate("config", options.config);
  },
  { name: "config", fastify: "5.x" },
);
