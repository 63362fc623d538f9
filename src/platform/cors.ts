import cors from "@fastify/cors";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/** @fastify/cors for the origins in CORS_ORIGINS (comma-separated); CORS stays off unless origins are allowed explicitly. */
export const corsPlugin = fp(
  async (app: FastifyInstance) => {
    const origins = app.config.CORS_ORIGINS.split(",")
      .map((origin) => origin.trim())
      .filter(Boolean);
    if (origins.length === 0) return;
    await app.register(cors, { origin: origins, methods: ["GET", "POST", "PUT", "PATCH", "DELETE"], maxAge: 600 });
  },
  { name: "cors", dependencies: ["config"], fastify: "5.x" },
);
