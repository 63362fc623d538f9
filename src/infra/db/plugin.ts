import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { createDatabaseClient, type DatabaseClient, type DatabaseWaits } from "./client.js";
import { resolveDatabase, type DatabaseLocation } from "./database-url.js";
import { ReadYourWrites, readYourWritesPlugin } from "./read-routing.js";

/** A database made elsewhere (the tests' copies of a migrated template): used as it is, closed with the app. */
export interface ProvidedDatabase {
  url: string;
  waits?: DatabaseWaits;
  /** It runs one statement at a time for every connection (an embedded database started elsewhere, as tests do). */
  oneStatementAtATime?: boolean;
  close?(): Promise<void>;
}

export interface Database extends DatabaseClient {
  /** postgres:// URL of the database (the embedded one's carries this start's password: keep it out of logs). */
  url: string;
  /** True when this process started the embedded PostgreSQL itself (no DATABASE_URL). */
  embedded: boolean;
  /** True when the database runs one statement at a time for every connection (the embedded one). */
  oneStatementAtATime: boolean;
  /** True when the current request's reads go to the primary although there is a read replica (its client just wrote). */
  readsFromPrimary(): boolean;
}

declare module "fastify" {
  interface FastifyInstance {
    database: Database;
  }
}

/**
 * The database the app runs on, owned by it: DATABASE_URL, or the embedded PostgreSQL under
 * DATA_DIR (started, and migrated, here: it belongs to this process; a shared PostgreSQL is
 * migrated by `npm run migrate`, so replicas never race), or a database handed in. The pool and
 * Prisma client on it, timed into db_query_duration_seconds; a pool error is logged and counted.
 * Closing the app ends the pool and stops what was started here.
 */
export const databasePlugin = fp(
  async (app: FastifyInstance, options: { provided?: ProvidedDatabase }) => {
    const { config, serviceMetrics: metrics } = app;
    const location = options.provided ? provided(options.provided) : await open(app);
    if (location.notice) app.log.warn({ component: "database" }, location.notice);
    app.addHook("onClose", () => location.close());
    const routing = new ReadYourWrites(config.DB_READ_YOUR_WRITES_MS);
    if (config.DATABASE_READ_URL) await app.register(readYourWritesPlugin, { routing });
    const client = createDatabaseClient(location.url, {
      poolMax: config.DB_POOL_MAX,
      statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
      lockTimeoutMs: config.DB_LOCK_TIMEOUT_MS,
      preparedStatements: config.DB_PREPARED_STATEMENTS,
      acquireTimeoutMs: config.DB_POOL_WAIT_MS,
      onPoolWaitTimeout: metrics.poolWaitTimedOut,
      observeQuery: metrics.observeQuery,
      onPoolError: (err) => {
        metrics.poolError();
        app.log.warn({ err, component: "database-pool" }, "idle database connection failed; the pool drops it and opens another when needed");
      },
      ...location.waits,
      replica: config.DATABASE_READ_URL
        ? {
            url: config.DATABASE_READ_URL,
            maxLagMs: config.DB_READ_MAX_LAG_MS,
            readsFromPrimary: () => routing.readsFromPrimary(),
            observeRead: metrics.readServed,
            observeLag: metrics.replicaLag,
          }
        : undefined,
    });
    // Registered after the location's hook, so it runs before it (onClose hooks run last-in, first-out).
    app.addHook("onClose", () => client.close());
    metrics.watchPool(client.pool);
    app.decorate("database", {
      ...client,
      url: location.url,
      embedded: location.embedded,
      oneStatementAtATime: location.oneStatementAtATime,
      readsFromPrimary: () => routing.readsFromPrimary(),
    });
  },
  { name: "database", dependencies: ["config", "metrics"], fastify: "5.x" },
);

function provided(database: ProvidedDatabase): DatabaseLocation {
  return {
    url: database.url,
    embedded: false,
    oneStatementAtATime: database.oneStatementAtATime ?? false,
    waits: database.waits ?? {},
    close: database.close ?? (async () => {}),
  };
}

async function open(app: FastifyInstance): Promise<DatabaseLocation> {
  const failed = (err: Error) =>
    app.log.error({ err, component: "embedded-database" }, "the embedded database stopped: every database request fails until the service is restarted");
  return resolveDatabase(app.config, failed);
}
