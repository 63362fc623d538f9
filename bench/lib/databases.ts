// The two databases a benchmark runs on, prepared the same way: migrated, seeded with SQL, then
// served by the service. PostgreSQL is a throwaway cluster; the embedded database is a PGlite
// data directory that this process prepares and closes before the service opens it (while the
// service runs, only the service can reach it), and reopens after the service stops for checks.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedPostgres } from "../../src/infra/db/embedded.js";
import { applyMigrations } from "../../src/infra/db/migrations.js";
import { onCleanup, startCluster } from "./main.js";
import { createMigratedDatabase, type PostgresCluster } from "./postgres.js";
import { startEmbeddedService, startService, type RunningServer } from "./service.js";

export type DatabaseKind = "postgres" | "embedded";

export interface BenchDatabase {
  kind: DatabaseKind;
  /** Runs SQL work against the database; on the embedded one only while the service is stopped. */
  withUrl<T>(use: (url: string) => Promise<T>): Promise<T>;
  /** Starts the service on it (the caller stops it). */
  startService(env?: Record<string, string>, nodeArgs?: string[]): Promise<RunningServer>;
  /** The database's own URL, for a server other than the service (PostgreSQL only). */
  url?: string;
  /**
   * Where another server (the bare baseline) finds the database: DATABASE_URL on PostgreSQL, the
   * data directory on the embedded one (opened by that server alone, so not while the service runs).
   */
  serverEnv: Record<string, string>;
}

/** BENCH_DATABASES, e.g. "postgres,embedded" (the default). */
export function benchDatabases(): DatabaseKind[] {
  const kinds = (process.env.BENCH_DATABASES ?? "postgres,embedded").split(",").map((s) => s.trim());
  for (const kind of kinds) if (kind !== "postgres" && kind !== "embedded") throw new Error(`BENCH_DATABASES: postgres or embedded, not ${kind}`);
  return kinds as DatabaseKind[];
}

let cluster: Promise<PostgresCluster> | undefined;

/** A new migrated database of `kind`, named `name` where names matter. */
export async function createBenchDatabase(kind: DatabaseKind, name: string): Promise<BenchDatabase> {
  if (kind === "postgres") {
    cluster ??= startCluster();
    const url = await createMigratedDatabase(await cluster, name);
    return { kind, url, serverEnv: { DATABASE_URL: url }, withUrl: (use) => use(url), startService: (env, nodeArgs) => startService(url, env, nodeArgs) };
  }
  const dataDir = await mkdtemp(join(tmpdir(), `order-service-bench-${name}-`));
  onCleanup(() => rm(dataDir, { recursive: true, force: true }));
  const withUrl = async <T>(use: (url: string) => Promise<T>): Promise<T> => {
    const db = await startEmbeddedPostgres({ dataDir: join(dataDir, "pglite") });
    try {
      return await use(db.url);
    } finally {
      await db.close();
    }
  };
  await withUrl((url) => applyMigrations(url));
  return {
    kind,
    withUrl,
    serverEnv: { DATA_DIR: dataDir },
    // The same raised abuse limits as on PostgreSQL (see startService).
    startService: (env, nodeArgs) =>
      startEmbeddedService(
        dataDir,
        { DB_POOL_MAX: "20", LOGIN_RATE_LIMIT_PER_MINUTE: "1000000", REGISTER_RATE_LIMIT_PER_HOUR: "1000000", LOGIN_FAILURES_BEFORE_DELAY: "1000000", ...env },
        nodeArgs,
      ),
  };
}
