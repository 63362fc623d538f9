// Start-up as an operator meets it, with the real server process: a one-line summary when it
// works, and for each way it can fail one line saying what to do, no stack, a non-zero exit code,
// and nothing migrated.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { freePort } from "../../support/postgres-cluster.js";
import { runServerToExit, startServerProcess } from "../helpers/server-process.js";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "order-service-startup-"));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

/** The summary is logged just after "Server listening"; wait for it. */
async function summaryLine(output: () => string): Promise<string> {
  for (let i = 0; i < 100 && !output().includes("order service ready"); i++) await new Promise((r) => setTimeout(r, 50));
  return (
    output()
      .split("\n")
      .find((l) => l.includes("order service ready")) ?? ""
  );
}

let dirs = 0;
const newDataDir = () => join(scratch, `data-${++dirs}`);

/** The failure is one line on stderr, ends in what to do, no stack, exit code 1. */
function expectOneLineFailure(result: { code: number | null; stdout: string; stderr: string }, line: RegExp): void {
  const all = `${result.stdout}${result.stderr}`;
  expect(result.code, all).toBe(1);
  expect(result.stderr.trim().split("\n"), all).toHaveLength(1);
  expect(result.stderr.trim()).toMatch(line);
  expect(all).not.toMatch(/^\s+at /m);
  expect(all).not.toMatch(/Server listening|order service ready/);
}

describe("a start that works", () => {
  it("prints where it listens, the docs, the database and the development admin, in development", async () => {
    const dataDir = newDataDir();
    // A new data directory: initdb and every migration first, slow on a busy machine.
    const server = await startServerProcess({ NODE_ENV: "development", DATA_DIR: dataDir, ADMIN_PASSWORD: "" }, 100_000);
    onTestFinished(() => void server.child.kill("SIGTERM"));
    const url = server.baseUrl;
    const summary = await summaryLine(server.output);
    expect(summary, server.output()).toContain(`order service ready at ${url} · docs ${url}/docs · embedded PostgreSQL in ${join(dataDir, "pglite")}`);
    expect(summary).toContain("sign in as admin / 12345 (development only)");
    // Readable lines, not JSON, in development.
    expect(summary.trim().startsWith("{")).toBe(false);
    const docs = await fetch(`${url}/docs`, { redirect: "manual" });
    expect(docs.status).toBeLessThan(400);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  }, 150_000);

  it("never shows credentials outside development, and logs JSON there", async () => {
    const db = await createTestDatabase();
    onTestFinished(() => db.close());
    const server = await startServerProcess({
      NODE_ENV: "production",
      DATABASE_URL: db.url,
      JWT_SECRET: "a-production-secret-of-at-least-32-characters",
      ADMIN_PASSWORD: "first-admin-password",
    });
    onTestFinished(() => void server.child.kill("SIGTERM"));
    const summary = JSON.parse(await summaryLine(server.output)) as { msg: string; time: string };
    expect(summary?.msg).toContain(`order service ready at ${server.baseUrl} · docs ${server.baseUrl}/docs · PostgreSQL at 127.0.0.1:`);
    expect(summary?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(server.output()).not.toMatch(/sign in|first-admin-password|12345/);
    const database = new URL(db.url);
    if (database.password) expect(server.output()).not.toContain(database.password);
    // The admin from ADMIN_PASSWORD works.
    const login = await fetch(`${server.baseUrl}/api/token/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "admin", password: "first-admin-password" }),
    });
    expect(login.status).toBe(200);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  }, 60_000);
});

describe("a start that fails", () => {
  let occupied: Server;
  let occupiedPort: number;
  beforeAll(async () => {
    occupied = createServer();
    await new Promise<void>((resolve) => occupied.listen(0, "127.0.0.1", resolve));
    occupiedPort = (occupied.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => occupied.close(() => resolve())));

  it("on a taken port, says so before touching the database", async () => {
    const dataDir = newDataDir();
    const result = await runServerToExit({ PORT: String(occupiedPort), DATA_DIR: dataDir });
    expectOneLineFailure(
      result,
      new RegExp(`^Port ${occupiedPort} on 127\\.0\\.0\\.1 is already in use .*: stop that process, or start with PORT=<another port>\\.$`),
    );
    expect(existsSync(dataDir)).toBe(false); // nothing created, nothing migrated
  });

  it("on an unreachable DATABASE_URL, names the server (not the password) and what to do", async () => {
    const port = await freePort();
    const result = await runServerToExit({ DATABASE_URL: `postgres://orders:s3cret-pw@127.0.0.1:${port}/orders` });
    expectOneLineFailure(
      result,
      new RegExp(`^Cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}/orders \\(connection refused\\): start it, or check DATABASE_URL\\.$`),
    );
    expect(result.stderr).not.toContain("s3cret-pw");
  });

  it("on an unknown database host, says to check DATABASE_URL", async () => {
    const result = await runServerToExit({ DATABASE_URL: "postgres://orders:pw@no-such-host.invalid:5432/orders" });
    expectOneLineFailure(result, /^Cannot resolve the database host "no-such-host\.invalid": check DATABASE_URL\.$/);
  });

  it("on a database that was never migrated, says to run the migrations", async () => {
    const db: TestDatabase = await createEmptyDatabase();
    onTestFinished(() => db.close());
    const result = await runServerToExit({ DATABASE_URL: db.url });
    expectOneLineFailure(result, /lacks \d+ migration\(s\) of this version .*: run `npm run migrate` .*first\.$/);
  });

  it("on a data directory in use by another process, names the process and what to do", async () => {
    const dataDir = newDataDir();
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, "pglite.lock"), `${process.pid}\n`); // this test process: alive
    const result = await runServerToExit({ DATA_DIR: dataDir });
    expectOneLineFailure(result, new RegExp(`in use by process ${process.pid}\\b.*: stop (it|that process) first, or .*DATA_DIR`));
  });

  it("in the migration and admin scripts too (a second `make run` meets them first)", async () => {
    const dataDir = newDataDir();
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, "pglite.lock"), `${process.pid}\n`);
    for (const script of ["scripts/migrate.ts", "scripts/create-admin.ts"]) {
      const result = await runServerToExit({ DATA_DIR: dataDir }, 30_000, script);
      expectOneLineFailure(result, new RegExp(`in use by process ${process.pid}\\b.*: stop (it|that process) first, or .*DATA_DIR`));
    }
    const port = await freePort();
    const unreachable = await runServerToExit({ DATABASE_URL: `postgres://orders:pw@127.0.0.1:${port}/orders` }, 30_000, "scripts/migrate.ts");
    expectOneLineFailure(unreachable, /^Cannot reach PostgreSQL at .*: start it, or check DATABASE_URL\.$/);
  });

  it("on a data directory that cannot be created, says to set DATA_DIR", async () => {
    const notADirectory = join(scratch, "a-file");
    await writeFile(notADirectory, "not a directory");
    const result = await runServerToExit({ DATA_DIR: notADirectory });
    expectOneLineFailure(result, /^Cannot use the data directory .*a-file.*: set DATA_DIR to a writable directory, or fix this one's permissions\.$/);
  });

  it("on a damaged data directory, names it and says how to start afresh", async () => {
    const dataDir = newDataDir();
    await mkdir(join(dataDir, "pglite"), { recursive: true });
    await writeFile(join(dataDir, "pglite", "PG_VERSION"), "not a version\n");
    await writeFile(join(dataDir, "pglite", "postgresql.conf"), "\u0000\u0001garbage");
    const result = await runServerToExit({ DATA_DIR: dataDir }, 60_000);
    expectOneLineFailure(result, new RegExp(`${join(dataDir, "pglite").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}.*((re)?move it|delete it)`));
  }, 70_000);

  it.each([
    [{ PORT: "eighty" }, /^Invalid configuration: PORT must be integer\. Fix the environment and start again/],
    [{ NODE_ENV: "production", JWT_SECRET: "" }, /JWT_SECRET is required when NODE_ENV=production/],
    [{ WORKERS: "2" }, /WORKERS > 1 needs DATABASE_URL.*Set DATABASE_URL, or WORKERS=1\.$/],
  ])("on bad configuration %o, says which setting", async (env, line) => {
    const result = await runServerToExit({ DATA_DIR: newDataDir(), ...env });
    expectOneLineFailure(result, line);
  });
});
