# syntax=docker/dockerfile:1
#
# Order service image.
#   docker build -t order-service .
#   docker run --rm -e DATABASE_URL=postgres://… order-service node dist/scripts/migrate.js   # one-shot migration
#   docker run -p 8000:8000 -e DATABASE_URL=postgres://… -e JWT_SECRET=… order-service     # the API
#
# Node 24 is an LTS line (maintained until April 2028); override with --build-arg NODE_IMAGE=….
# For reproducible builds, pin the digest too (node:24-bookworm-slim@sha256:…).
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: all dependencies, generated code, TypeScript -> dist/ ------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# `prisma generate` only checks that an engine file exists and never runs it, so it works offline.
ENV PRISMA_SCHEMA_ENGINE_BINARY=/app/package.json \
    NPM_CONFIG_UPDATE_NOTIFIER=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json prisma.config.ts openapi.yaml ./
COPY prisma ./prisma
COPY generated/openapi.ts ./generated/openapi.ts
COPY scripts ./scripts
COPY src ./src
RUN npx tsx scripts/generate-types.ts \
 && npx prisma generate \
 && npx tsc -p tsconfig.build.json

# ---- prod-deps: runtime dependencies only -----------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund

# ---- runtime ---------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="order-service" \
      org.opencontainers.image.description="Order service API (Fastify + Prisma on PostgreSQL)"
WORKDIR /app
# HOST=0.0.0.0: the app's default (127.0.0.1) is unreachable from outside the container.
# DATA_DIR under /tmp: only the embedded database (no DATABASE_URL, not for containers) writes there.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/tmp/order-service
# Files stay owned by root and read-only to the app user: nothing is written at runtime.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json openapi.yaml ./
COPY prisma ./prisma
# The image's `node` user (UID/GID 1000), numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Other commands from the same image:
#   node dist/scripts/migrate.js        applies prisma/migrations to DATABASE_URL
#   node dist/scripts/create-admin.js   creates the default admin (needs ADMIN_PASSWORD)
# src/instrumentation.ts is loaded first: OpenTelemetry tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/guides/tracing.md).
CMD ["node", "--import", "./dist/src/instrumentation.js", "dist/src/server.js"]
