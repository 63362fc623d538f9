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

/** Node processes whose parent is `pid` (tsx may add an esbuild helper, which is not a worker). */
// By command line, not by name: Node 24 names its processes' main thread "MainThread".
const nodeChildrenOf = (pid: number) =>
  execFileSync("ps", ["-o", "args=", "--ppid", String(pid)], { encoding: "utf8" })
    .split("\n")
    .filter((command) => command.includes("src/server.ts"));

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

  it("refuses WORKERS > 1 on the embedded database", async () => {
    await expect(startServerProcess({ WORKERS: "2", DATA_DIR: "/tmp/order-service-workers-test" })).rejects.toThrow(/WORKERS > 1 needs DATABASE_URL/);
  });
});
