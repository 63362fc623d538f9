import { join } from "node:path";
import closeWithGrace from "close-with-grace";
import Fastify, { type FastifyInstance } from "fastify";
import { DEFAULT_ADMIN_NAME } from "./accounts/index.js";
import { app as orderService, serverOptions } from "./app.js";
import { runWorkers } from "./cluster.js";
import { type Config, loadConfig } from "./infra/config.js";
import { checkDatabase, checkPortFree, describeDatabaseUrl, listenFailure } from "./infra/startup/checks.js";
import { StartupError } from "./infra/startup/error.js";
import { checkPooling } from "./infra/startup/pooler-check.js";
import { exitWithStartupFailure } from "./infra/startup/failure.js";
import { migrateDatabaseUrl } from "./infra/startup/migrate.js";
import { onStopSignals } from "./infra/startup/stop-signals.js";

const SHUTDOWN_GRACE_MS = 10_000;

async function serve(config: Config): Promise<void> {
  // The app opens (and on failure closes) the database: the embedded one, started and migrated
  // here, or DATABASE_URL, migrated beforehand by `npm run migrate`.
  const app = Fastify(serverOptions(config));
  try {
    await app.register(orderService, { config });
    await app.ready();
  } catch (error) {
    // Whatever was opened before the failure (an embedded server, a pool) is closed again.
    await app.close().catch(() => {});
    throw error;
  }
  await app.listen({ host: config.HOST, port: config.PORT }).catch(async (error: NodeJS.ErrnoException) => {
    await app.close();
    throw listenFailure(error, config.HOST, config.PORT);
  });
  // SIGINT and SIGTERM are onStopSignals' (a duplicate is ignored, make's own SIGINT noticed);
  // close-with-grace runs the shutdown within the grace period, and handles the other signals and errors.
  const shutdown = closeWithGrace({ delay: SHUTDOWN_GRACE_MS, skip: ["SIGINT", "SIGTERM"] }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, "shutting down after an error");
    else if (signal) app.log.info({ signal }, "shutting down");
    app.lifecycle.shuttingDown = true;
    await app.close(); // stops accepting, lets in-flight requests finish, then closes what the app opened
  });
  onStopSignals(
    (signal) => {
      app.log.info({ signal }, "shutting down");
      void shutdown.close();
    },
    { onForcedExit: (signal) => app.log.error({ signal }, `second ${signal}, exiting without waiting for requests in flight`) },
  );
  logSummary(app, config);
}

/** The one start-up line a person reads: where it listens, the docs, the database, how to sign in. */
function logSummary(app: FastifyInstance, config: Config): void {
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  const host = ["0.0.0.0", "::"].includes(config.HOST) ? "localhost" : config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST;
  const url = `http://${host}:${port}`;
  const database = app.database.embedded
    ? `embedded PostgreSQL in ${join(config.DATA_DIR, "pglite")}`
    : `PostgreSQL at ${describeDatabaseUrl(app.database.url)}`;
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
  await runWorkers(config.WORKERS, { check: () => checkBeforeServing(config), serve: () => serve(config) });
}

/** Once, before anything is migrated or any worker starts. */
async function checkBeforeServing(config: Config): Promise<void> {
  await checkPortFree(config.HOST, config.PORT);
  // `make run` asks for DATABASE_URL to be migrated (--migrate): only once the port is known to be free.
  if (config.DATABASE_URL && process.argv.includes("--migrate")) console.log(await migrateDatabaseUrl(config.DATABASE_URL));
  if (config.DATABASE_URL) await checkDatabase(config.DATABASE_URL);
  await checkPooling(config);
}

main().catch(exitWithStartupFailure);
