import closeWithGrace from "close-with-grace";
import { buildApp } from "./app.js";
import { runWorkers } from "./cluster.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { createDatabaseClient } from "./db/client.js";
import { resolveDatabase } from "./db/database-url.js";
import { EmbeddedDatabaseError } from "./db/embedded.js";
import { applyMigrations } from "./db/migrations.js";
import { ensureDefaultAdmin } from "./domain/default-admin.js";
import { UsersRepository } from "./domain/users.js";
import { createMetrics } from "./observability/metrics.js";

const SHUTDOWN_GRACE_MS = 10_000;

async function serve(config: Config): Promise<void> {
  const location = await resolveDatabase(config);
  // The embedded database belongs to this process, so it migrates itself. A shared PostgreSQL
  // is migrated once by `npm run migrate` (a separate step, so replicas never race).
  if (location.embedded) await applyMigrations(location.url);
  const metrics = createMetrics();
  const database = createDatabaseClient(location.url, {
    poolMax: config.DB_POOL_MAX,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: config.DB_LOCK_TIMEOUT_MS,
    observeQuery: metrics.observeQuery,
    ...location.waits,
  });
  if (config.ADMIN_PASSWORD) await ensureDefaultAdmin(new UsersRepository(database.prisma), config.ADMIN_PASSWORD);

  const app = await buildApp({ config, database, metrics, ...(location.embedded ? {} : { coordination: { url: config.COORDINATION_DATABASE_URL ?? location.url } }) });
  closeWithGrace({ delay: SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, "shutting down after an error");
    else app.log.info({ signal }, "shutting down");
    app.lifecycle.shuttingDown = true;
    await app.close(); // stops accepting, lets in-flight requests finish
    await database.close();
    await location.close();
  });
  await app.listen({ host: config.HOST, port: config.PORT });
  app.log.info({ database: location.embedded ? "embedded (PGlite)" : "PostgreSQL" }, "order service ready");
}

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.WORKERS > 1 && !config.DATABASE_URL) {
    throw new ConfigError("WORKERS > 1 needs DATABASE_URL: the embedded database belongs to a single process");
  }
  await runWorkers(config.WORKERS, () => serve(config));
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError || error instanceof EmbeddedDatabaseError ? error.message : error);
  process.exit(1);
});
