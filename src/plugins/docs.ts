import type { FastifyInstance } from "fastify";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";

/**
 * Swagger UI at /docs, served from the npm packages (no CDN, works offline). The UI's own
 * routes (/docs/*) are the only routes not described by openapi.yaml: they are the page, not the API.
 */
export async function registerDocs(app: FastifyInstance, spec: Record<string, unknown>): Promise<void> {
  await app.register(fastifySwagger, { mode: "static", specification: { document: spec as never } });
  await app.register(fastifySwaggerUi, {
    routePrefix: "/docs",
    uiConfig: { docExpansion: "list", deepLinking: true, persistAuthorization: true, tryItOutEnabled: true },
    staticCSP: true,
  });
}
