// Prepares the migrated template that tests/helpers/database.ts copies for each test file, and
// watches the test workers' exits (tests/worker-exits.ts).
// TEST_DB=postgres never falls back to PGlite: without a server it fails.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../src/infra/db/embedded.js";
import { applyMigrations } from "../src/infra/db/migrations.js";
import { createDatabase, databaseUrl, dropDatabase, onServer, testDatabaseKind } from "./helpers/database-setup.js";
import { startPostgresCluster } from "../support/postgres-cluster.js";
import { startPgBouncer } from "../support/pgbouncer.js";
import { watchWorkerExits } from "./worker-exits.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const workers = watchWorkerExits();
  project.provide("runningFiles", workers.runningFiles);
  try {
    const teardown = await (testDatabaseKind() === "pglite" ? setupPglite(project) : setupPostgres(project));
    return async () => {
      await teardown();
      workers.stop();
    };
  } catch (error) {
    workers.stop();
    throw error;
  }
}

async function setupPglite(project: TestProject) {
  const dir = await mkdtemp(join(tmpdir(), "order-service-pglite-"));
  const db = await startEmbeddedPostgres({});
  try {
    const emptyDump = join(dir, "empty.tar");
    const migratedDump = join(dir, "migrated.tar");
    await writeFile(emptyDump, new Uint8Array(await (await db.dumpDataDir()).arrayBuffer()));
    await applyMigrations(db.url);
    await writeFile(migratedDump, new Uint8Array(await (await db.dumpDataDir()).arrayBuffer()));
    project.provide("testDatabase", { kind: "pglite", emptyDump, migratedDump });
  } finally {
    await db.close();
  }
  return () => rm(dir, { recursive: true, force: true });
}

async function setupPostgres(project: TestProject) {
  const cluster = process.env.TEST_DATABASE_URL ? undefined : await startPostgresCluster();
  const serverUrl = process.env.TEST_DATABASE_URL ?? cluster!.url;
  const template = `test_template_${randomBytes(6).toString("hex")}`;
  try {
    await createDatabase(serverUrl, template);
    await applyMigrations(databaseUrl(serverUrl, template));
    // Nobody may stay connected to a template database, or copying it fails.
    await onServer(serverUrl, `ALTER DATABASE ${template} ALLOW_CONNECTIONS false`);
  } catch (error) {
    await cleanUp();
    const where = cluster ? "the throwaway cluster" : "TEST_DATABASE_URL";
    throw new Error(`TEST_DB=postgres: could not prepare a migrated template database on ${where}: ${(error as Error).message}`, { cause: error });
  }
  // TEST_POOLER=pgbouncer: the apps under test reach their databases through PgBouncer in transaction mode.
  const pooler =
    process.env.TEST_POOLER === "pgbouncer"
      ? await startPgBouncer(serverUrl).catch(async (error: unknown) => {
          await cleanUp();
          throw error;
        })
      : undefined;
  project.provide("testDatabase", { kind: "postgres", serverUrl, template, poolerUrl: pooler?.url });
  return async () => {
    await pooler?.stop();
    await cleanUp();
  };

  async function cleanUp() {
    if (cluster) return cluster.stop();
    await dropDatabase(serverUrl, template).catch(() => {});
  }
}
