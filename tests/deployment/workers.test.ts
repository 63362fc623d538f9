// WORKERS=N: N processes share the port; SIGTERM stops them all cleanly.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { startServerProcess } from "../helpers/server-process.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

/** The pids of the worker processes whose parent is `pid` (tsx may add an esbuild helper, which is not a worker). */
// By command line, not by name: Node 24 names its processes' main thread "MainThread".
const nodeChildrenOf = (pid: number) =>
  execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(pid)], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes("src/server.ts"))
    .map((line) => Number.parseInt(line.trim(), 10));

describe("WORKERS", () => {
  it("serves from N processes and stops them all on SIGTERM", async () => {
    const server = await startServerProcess({ DATABASE_URL: db.url, WORKERS: "2" });
    onTestFinished(() => void server.child.kill("SIGTERM")); // stops it (and its workers) if an assertion failed first
    const statuses = await Promise.all(Array.from({ length: 20 }, () => fetch(`${server.baseUrl}/readyz`).then((r) => r.status)));
    expect(statuses).toEqual(Array(20).fill(200));
    // Both workers listen (each logs its own "Server listening").
    await expect.poll(() => server.output().match(/Server listening/g)?.length ?? 0, { timeout: 20_000 }).toBe(2);
    // Polled: a process list read once on a busy machine has shown one worker (CI, once).
    await expect.poll(() => nodeChildrenOf(server.child.pid!).length, { timeout: 10_000, message: server.output() }).toBe(2);
    expect(server.output()).not.toMatch(/worker \d+ exited/); // none died and was replaced
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  }, 60_000);

  it("replaces a worker that dies, and the replacement serves beside the other", async () => {
    const server = await startServerProcess({ DATABASE_URL: db.url, WORKERS: "2" });
    onTestFinished(() => void server.child.kill("SIGTERM"));
    await expect.poll(() => server.output().match(/Server listening/g)?.length ?? 0, { timeout: 20_000 }).toBe(2);
    const [victim, survivor] = nodeChildrenOf(server.child.pid!);
    process.kill(victim!, "SIGKILL");
    await expect.poll(() => server.output(), { timeout: 10_000 }).toContain(`worker ${victim} exited (SIGKILL); starting another`);
    // The replacement starts while the survivor holds the port: it must listen, not fail its start-up checks.
    await expect.poll(() => server.output().match(/Server listening/g)?.length ?? 0, { timeout: 30_000, message: server.output() }).toBe(3);
    const workers = nodeChildrenOf(server.child.pid!);
    expect(workers).toHaveLength(2);
    expect(workers).toContain(survivor);
    expect(workers).not.toContain(victim);
    expect(server.output().match(/ exited /g)).toHaveLength(1); // only the one killed
    const statuses = await Promise.all(Array.from({ length: 20 }, () => fetch(`${server.baseUrl}/readyz`).then((r) => r.status)));
    expect(statuses).toEqual(Array(20).fill(200));
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  }, 90_000);

  it("refuses WORKERS > 1 on the embedded database", async () => {
    await expect(startServerProcess({ WORKERS: "2", DATA_DIR: "/tmp/order-service-workers-test" })).rejects.toThrow(/WORKERS > 1 needs DATABASE_URL/);
  });
});
