import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../../generated/prisma/client.js";

export interface DatabaseClient {
  prisma: PrismaClient;
  /** The pool behind Prisma's adapter, for readiness checks and pool metrics. */
  pool: pg.Pool;
  close(): Promise<void>;
}

export function createDatabaseClient(url: string, poolMax: number): DatabaseClient {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolMax,
    // Fail fast while the database is away instead of queueing requests until clients time out.
    connectionTimeoutMillis: 3_000,
    idleTimeoutMillis: 30_000,
    query_timeout: 30_000,
  });
  // An idle client whose server went away emits 'error'; the pool drops it and reconnects later.
  pool.on("error", () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    prisma,
    pool,
    async close() {
      await prisma.$disconnect();
      await pool.end().catch(() => {});
    },
  };
}
