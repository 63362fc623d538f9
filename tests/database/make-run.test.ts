// Issue 27, finding 10: `make run` as an operator meets it, through the Makefile's own recipe
// (run on the sources, SERVE_COMMAND, so that no build is needed): a taken port is refused before
// DATABASE_URL is migrated; the service is make's only child (exec), so SIGINT to make's pid alone
// stops it, and a SIGTERM to the whole process group (which reaches node twice: from the group,
// and forwarded by make) still drains gracefully instead of exiting at the second signal.
import { readdir, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { freePort } from "../../support/postgres-cluster.js";
import { spawnProcess, type ServiceProcess } from "../../support/service-process.js";
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from "../helpers/database.js";

const SERVE_FROM_SOURCES = "SERVE_COMMAND=node --import tsx --import ./src/instrumentation.ts src/server.ts";

/** `make run` in its own process group (as a terminal runs it), the prerequisite build taken as done. */
function makeRun(env: Record<string, string>): ServiceProcess {
  return spawnProcess("make", ["--no-print-directory", "-o", "dist/src/server.js", "run", SERVE_FROM_SOURCES], {
    env: { ...process.env, NODE_ENV: "test", LOG_LEVEL: "info", HOST: "127.0.0.1", ...env },
    keepOutputChars: Number.POSITIVE_INFINITY,
    detached: true,
  });
}

async function untilReady(run: ServiceProcess, port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) return;
    if (run.child.exitCode !== null) break;
    await sleep(100);
  }
  throw new Error(`make run did not get ready:\n${run.output()}`);
}

/** Processes whose parent is `pid`. */
async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) children.push(Number(entry));
  }
  return children;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("finding 10: make run", () => {
  let empty: TestDatabase;
  let migrated: TestDatabase;
  let taken: Server;
  let takenPort: number;
  beforeAll(async () => {
    [empty, migrated] = await Promise.all([createEmptyDatabase(), createTestDatabase()]);
    takenPort = await freePort();
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(takenPort, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    taken?.close();
    await Promise.all([empty?.close(), migrated?.close()]);
  });

  it("with a taken port refuses before migrating DATABASE_URL, in the service's one line", async () => {
    const run = makeRun({ DATABASE_URL: empty.url, PORT: String(takenPort) });
    const code = await run.exited;
    expect(code, run.output()).not.toBe(0);
    expect(run.outputOf("stderr")).toContain(`Port ${takenPort} on 127.0.0.1 is already in use`);
    // Nothing applied: not even the migrations' own table exists.
    const client = new pg.Client({ connectionString: empty.url });
    await client.connect();
    onTestFinished(() => client.end());
    const { rows } = await client.query<{ tables: number }>("SELECT count(*)::int AS tables FROM pg_tables WHERE schemaname = 'public'");
    expect(rows[0]!.tables, run.output()).toBe(0);
    expect(run.output()).not.toMatch(/Applied to|up to date/);
  }, 60_000);

  it("is stopped by SIGINT to make's pid alone, and the service drains", async () => {
    const run = await servingOn(migrated);
    expect(run.output()).toContain("DATABASE_URL: already up to date.");
    // exec: the service is make's one child, not a shell in between.
    const [service, ...others] = await childrenOf(run.child.pid!);
    expect(others).toEqual([]);
    expect(await readCommand(service!)).toMatch(/src\/server\.ts/);

    run.child.kill("SIGINT");
    expect(await stopsWithin(run, 15_000), run.output()).toBe(true);
    expect(alive(service!)).toBe(false);
    expect(run.output()).toMatch(/shutting down/);
    expect(run.output()).not.toMatch(/second SIG|exiting without waiting/);
  }, 120_000);

  it("drains on a SIGTERM to the whole process group, which reaches the service twice", async () => {
    const run = await servingOn(migrated);
    process.kill(-run.child.pid!, "SIGTERM");
    expect(await stopsWithin(run, 15_000), run.output()).toBe(true);
    expect(run.output()).toMatch(/shutting down/);
    // The duplicate is not taken as an operator's second signal (which exits 1 without draining).
    expect(run.output()).not.toMatch(/second SIG|exiting without waiting/);
    expect(run.output()).not.toMatch(/Error 1/);
  }, 120_000);
});

/** `make run` on `database` and a free port, ready; killed with its process group when the test ends. */
async function servingOn(database: TestDatabase): Promise<ServiceProcess> {
  const port = await freePort();
  const run = makeRun({ DATABASE_URL: database.url, PORT: String(port) });
  onTestFinished(() => void (run.child.pid && alive(-run.child.pid) && process.kill(-run.child.pid, "SIGKILL")));
  await untilReady(run, port);
  return run;
}

const stopsWithin = (run: ServiceProcess, ms: number) => Promise.race([run.exited.then(() => true), sleep(ms).then(() => false)]);

async function readCommand(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, "utf8")).replaceAll("\0", " ");
}
