import type { FastifyInstance } from "fastify";
import helmet from "@fastify/helmet";
import cors from "@fastify/cors";

/**
 * Helmet's headers fitted to a JSON API: nothing may be framed or loaded by an API answer.
 * The docs page sets its own, looser CSP for Swagger UI's assets. CORS stays off unless
 * origins are allowed explicitly.
 */
export async function registerSecurityHeaders(app: FastifyInstance, corsOrigins: string[]): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    crossOriginResourcePolicy: { policy: "same-origin" },
    hsts: { maxAge: 31_536_000, includeSubDomains: true },
  });
  if (corsOrigins.length > 0) {
    await app.register(cors, { origin: corsOrigins, methods: ["GET", "POST", "PUT", "PATCH", "DELETE"], maxAge: 600 });
  }
}
