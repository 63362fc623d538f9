import { join } from "node:path";
import closeWithGrace from "close-with-grace";
import type { FastifyInstance } from "fastify";
import { buildApp } from "./app.js";
import { runWorkers } from "./cluster.js";
import { loadConfig, type Config } from "./config.js";
import { createDatabaseClient } from "./db/client.js";
import { resolveDatabase, type DatabaseLocation } from "./db/database-url.js";
import { applyMigrations } from "./db/migrations.js";
import { DEFAULT_ADMIN_NAME, ensureDefaultAdmin } from "./domain/default-admin.js";
import { UsersRepository } from "./domain/users.js";
import { createMetrics } from "./observability/metrics.js";
import { checkDatabase, checkPortFree, describeDatabaseUrl, embeddedFailure, listenFailure } from "./startup-checks.js";
import { StartupError } from "./startup-error.js";
import { exitWithStartupFailure } from "./startup-failure.js";

const SHUTDOWN_GRACE_MS = 10_000;

async function serve(config: Config): Promise<void> {
  const location = await openDatabase(config);
  let app: FastifyInstance | undefined;
  const metrics = createMetrics();
  const database = createDatabaseClient(location.url, {
    poolMax: config.DB_POOL_MAX,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: config.DB_LOCK_TIMEOUT_MS,
    observeQuery: metrics.observeQuery,
    ...location.waits,
  });
  try {
    // The embedded database belongs to this process, so it migrates itself. A shared PostgreSQL
    // is migrated once by `npm run migrate` (a separate step, so replicas never race).
    if (location.embedded) await applyMigrations(location.url);
    if (config.ADMIN_PASSWORD) await ensureDefaultAdmin(new UsersRepository(database.prisma), config.ADMIN_PASSWORD);
    const coordination = location.embedded ? {} : { coordination: { url: config.COORDINATION_DATABASE_URL ?? location.url } };
    app = await buildApp({ config, database, metrics, ...coordination });
    await app.listen({ host: config.HOST, port: config.PORT }).catch((error: NodeJS.ErrnoException) => {
      throw listenFailure(error, config.HOST, config.PORT);
    });
  } catch (error) {
    await app?.close();
    await database.close();
    await location.close();
    throw error;
  }
  const running = app;
  closeWithGrace({ delay: SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) running.log.error({ err }, "shutting down after an error");
    else running.log.info({ signal }, "shutting down");
    running.lifecycle.shuttingDown = true;
    await running.close(); // stops accepting, lets in-flight requests finish
    await database.close();
    await location.close();
  });
  logSummary(running, config, location);
}

async function openDatabase(config: Config): Promise<DatabaseLocation> {
  if (config.DATABASE_URL) return resolveDatabase(config);
  return resolveDatabase(config).catch((error: unknown) => {
    throw embeddedFailure(error, join(config.DATA_DIR, "pglite"));
  });
}

/** The one start-up line a person reads: where it listens, the docs, the database, how to sign in. */
function logSummary(app: FastifyInstance, config: Config, location: DatabaseLocation): void {
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  const host = ["0.0.0.0", "::"].includes(config.HOST) ? "localhost" : config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST;
  const url = `http://${host}:${port}`;
  const database = location.embedded
    ? `embedded PostgreSQL in ${join(config.DATA_DIR, "pglite")}`
    : `PostgreSQL at ${describeDatabaseUrl(location.url)}`;
  // The development admin's password is shown only when it is the built-in default.
  const admin =
    config.NODE_ENV === "development" && config.ADMIN_PASSWORD
      ? process.env.ADMIN_PASSWORD
        ? ` · sign in as ${DEFAULT_ADMIN_NAME} (password from ADMIN_PASSWORD)`
        : ` · sign in as ${DEFAULT_ADMIN_NAME} / ${config.ADMIN_PASSWORD} (development only)`
      : "";
  app.log.info(`order service ready at ${url} · docs ${url}/docs · ${database}${admin}`);
}

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.WORKERS > 1 && !config.DATABASE_URL) {
    throw new StartupError("WORKERS > 1 needs DATABASE_URL: the embedded database belongs to a single process. Set DATABASE_URL, or WORKERS=1.");
  }
  // Checked once, before anything is migrated or any worker starts.
  await checkPortFree(config.HOST, config.PORT);
  if (config.DATABASE_URL) await checkDatabase(config.DATABASE_URL);
  await runWorkers(config.WORKERS, () => serve(config));
}

main().catch(exitWithStartupFailure);
