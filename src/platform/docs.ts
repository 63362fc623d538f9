import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

const require = createRequire(import.meta.url);

/**
 * Swagger UI at /docs and Redoc at /redoc, both served from npm packages (no CDN, works offline).
 * Their routes (/docs*, /redoc*) are the only routes not described by openapi.yaml: they are the
 * pages, not the API.
 */
export const docsPlugin = fp(
  async (app: FastifyInstance, options: { specification: Record<string, unknown> }) => {
    const forThisServer = relativeServerFirst(options.specification);
    await app.register(fastifySwagger, { mode: "static", specification: { document: forThisServer as never } });
    await app.register(fastifySwaggerUi, {
      routePrefix: "/docs",
      uiConfig: { docExpansion: "list", deepLinking: true, persistAuthorization: true, tryItOutEnabled: true },
      staticCSP: true,
    });
    registerRedoc(app);
  },
  { name: "docs", fastify: "5.x" },
);

/**
 * The spec lists the local development URL first (generated clients take the first server as
 * their default); a page served by this server calls this server, so it lists `/` first.
 */
function relativeServerFirst(spec: Record<string, unknown>): Record<string, unknown> {
  const servers = (spec.servers ?? []) as { url: string }[];
  return { ...spec, servers: [...servers].sort((a, b) => Number(!a.url.startsWith("/")) - Number(!b.url.startsWith("/"))) };
}

// Redoc's styles are injected at run time (styled-components) and its search index runs in a
// worker made from a blob; nothing is loaded from elsewhere.
const REDOC_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const REDOC_PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Order Service API – Redoc</title>
  <link rel="icon" href="data:,">
</head>
<body>
  <redoc spec-url="/docs/json" hide-download-button="false"></redoc>
  <script src="/redoc/redoc.standalone.js"></script>
</body>
</html>
`;

function registerRedoc(app: FastifyInstance): void {
  // The bundle's only remote asset is the "API docs by Redocly" logo; an empty image hides it
  // (Redoc drops the logo when it fails to load), so the page makes no request elsewhere.
  const bundle = readFileSync(require.resolve("redoc/bundles/redoc.standalone.js"), "utf8").replaceAll("https://cdn.redoc.ly/redoc/logo-mini.svg", "data:,");
  app.get("/redoc", (_request, reply) => reply.header("content-security-policy", REDOC_CSP).type("text/html; charset=utf-8").send(REDOC_PAGE));
  app.get("/redoc/redoc.standalone.js", (_request, reply) =>
    reply.header("cache-control", "public, max-age=86400").type("text/javascript; charset=utf-8").send(bundle),
  );
}
