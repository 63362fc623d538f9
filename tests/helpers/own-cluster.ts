import type { FastifyInstance } from "fastify";
import { buildApp } from "./app.js";
import { loadConfig } from "../../src/infra/config.js";
import { applyMigrations } from "../../src/infra/db/migrations.js";
import { createDatabase, databaseUrl } from "./database-setup.js";
import { startPostgresCluster, type PostgresCluster } from "../../support/postgres-cluster.js";

export interface AppOnOwnCluster {
  cluster: PostgresCluster;
  /** The app's database, as a superuser. */
  url: string;
  app: FastifyInstance;
  /** The development admin's access token. */
  adminToken: string;
}

/** An app on a throwaway PostgreSQL cluster of its own, which a test may freeze or stop. */
export async function startAppOnOwnCluster(): Promise<AppOnOwnCluster> {
  const cluster = await startPostgresCluster();
  await createDatabase(cluster.url, "shop");
  const url = databaseUrl(cluster.url, "shop");
  await applyMigrations(url);
  const config = loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", DATABASE_URL: url, DB_POOL_MAX: "5", ADMIN_PASSWORD: "12345" });
  const app = await buildApp(config, { logger: false });
  const adminToken = (await app.inject({ method: "POST", url: "/api/token/", payload: { name: "admin", password: "12345" } })).json().access;
  return { cluster, url, app, adminToken };
}
