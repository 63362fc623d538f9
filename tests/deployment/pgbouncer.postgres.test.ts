// PgBouncer 1.18 in transaction mode between the service and PostgreSQL, as most production
// deployments run it. With the settings the docs name (DB_PREPARED_STATEMENTS=false, the
// coordination connection direct to PostgreSQL) many users get right answers through it; a
// configuration that cannot work refuses to start and says what to change.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { inject } from "vitest";
import { runManyUsers } from "../../bench/lib/many-users.js";
import { probeSession } from "../../src/infra/startup/pooler-check.js";
import { startPgBouncer, type PgBouncer } from "../../support/pgbouncer.js";
import { ADMIN } from "../../support/admin.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { databaseUrl } from "../helpers/database-setup.js";
import * as factories from "../helpers/factories.js";
import { runServerToExit, startServerProcess } from "../helpers/server-process.js";

const USERS = 30;
/** A server that does not refuse within this is killed (and the test fails on its exit code and output). */
const START_CHECK_MS = 15_000;

let db: TestDatabase;
let bouncer: PgBouncer;
let pooledUrl: string;

beforeAll(async () => {
  const setup = inject("testDatabase");
  if (setup.kind !== "postgres") throw new Error("needs TEST_DB=postgres");
  db = await createTestDatabase();
  bouncer = await startPgBouncer(setup.serverUrl);
  pooledUrl = databaseUrl(bouncer.url, new URL(db.url).pathname.slice(1));
}, 60_000);
afterAll(async () => {
  await bouncer?.stop();
  await db?.close();
});

describe("PgBouncer in transaction mode", () => {
  it("drops named statements and sessions between transactions, which a direct connection keeps", async () => {
    expect(await probeSession(db.url)).toEqual({ sessionKept: true, namedStatementsKept: true });
    expect(await probeSession(pooledUrl)).toEqual({ sessionKept: false, namedStatementsKept: false });
    // What the service would meet with named statements: the second transaction lands elsewhere.
    const [a, b] = [new pg.Client(pooledUrl), new pg.Client(pooledUrl)];
    await Promise.all([a.connect(), b.connect()]);
    try {
      await a.query({ name: "by_id", text: "SELECT $1::int AS id", values: [1] });
      await b.query("BEGIN");
      await expect(a.query({ name: "by_id", text: "SELECT $1::int AS id", values: [2] })).rejects.toMatchObject({ code: "26000" });
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it("refuses to start with named statements through it, and says which setting to change", async () => {
    const { code, stdout, stderr } = await runServerToExit({ DATABASE_URL: pooledUrl, COORDINATION_DATABASE_URL: db.url }, START_CHECK_MS);
    expect(code).not.toBe(0);
    expect(stdout + stderr).toMatch(/does not keep named prepared statements.*DB_PREPARED_STATEMENTS=false/);
  });

  it("refuses to start with the coordination connection through it, and says which setting to change", async () => {
    const { code, stdout, stderr } = await runServerToExit({ DATABASE_URL: pooledUrl, DB_PREPARED_STATEMENTS: "false" }, START_CHECK_MS);
    expect(code).not.toBe(0);
    expect(stdout + stderr).toMatch(/DATABASE_URL .* transaction-mode pooler.*Set COORDINATION_DATABASE_URL to PostgreSQL directly/);
  });

  it(`serves ${USERS} distinct users right through it with DB_PREPARED_STATEMENTS=false and the coordination connection direct`, async () => {
    const server = await startServerProcess({ DATABASE_URL: pooledUrl, DB_PREPARED_STATEMENTS: "false", COORDINATION_DATABASE_URL: db.url, LOG_LEVEL: "warn" });
    onTestFinished(() => void server.child.kill("SIGKILL"));
    const http = factories.viaHttp(server.baseUrl);
    const login = await http({ method: "POST", path: "/api/token/", body: ADMIN });
    expect(login.statusCode).toBe(200);
    const adminToken = login.json().access;

    const report = await runManyUsers({ baseUrl: server.baseUrl, adminToken, users: USERS, ordersPerUser: 1, readers: 3, products: 10 });
    expect(report.failures.slice(0, 10), server.output().slice(-3000)).toEqual([]);
    expect(report.ordersPlaced).toBe(USERS);

    // The catalogue's reads (by id, lists, counts) answer what was written, through the pooler.
    const product = await factories.createProduct(http, adminToken, { name: factories.uniqueName("Pooled Tea"), stock: 7 });
    const byId = await http({ method: "GET", path: `/api/product/${product.id}`, token: adminToken });
    expect(byId.json()).toMatchObject({ id: product.id, name: product.name, stock: 7 });
    const listed = await http({ method: "GET", path: `/api/product/?keyword=${encodeURIComponent(product.name)}`, token: adminToken });
    expect(listed.json()).toMatchObject({ count: 1, results: [{ id: product.id }] });

    // The coordination connection is on PostgreSQL itself, holding the jobs lock.
    const direct = new pg.Client(db.url);
    await direct.connect();
    try {
      const { rows } = await direct.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'order-service coordination' AND datname = current_database()",
      );
      expect(rows[0].n).toBe(1);
    } finally {
      await direct.end();
    }
  }, 120_000);
});
