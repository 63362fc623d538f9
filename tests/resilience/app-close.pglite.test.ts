// The app owns what it opens: built from the configuration alone (no DATABASE_URL), it starts and
// migrates the embedded PostgreSQL, listens, serves; `app.close()` then releases all of it: the
// embedded server's port refuses connections, the pool is ended, and nothing of ours keeps the
// process alive (no socket, server or timer more than before the app was built).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { buildApp } from "../helpers/app.js";
import { loadConfig } from "../../src/infra/config.js";
import { acceptsConnections } from "../../support/service-process.js";
import { openedSince, openResources } from "../helpers/open-resources.js";
import { testFilesRunInThisProcess } from "../helpers/process-sharing.js";

const dataDir = await mkdtemp(join(tmpdir(), "app-close-"));
afterAll(() => rm(dataDir, { recursive: true, force: true }));

it("releases the embedded database, its server, the pool and every timer on close", async () => {
  // Resources are counted by kind: exact only where no other test file left any (tests/own-process.ts).
  expect(testFilesRunInThisProcess(), "the first test file of its worker process").toBe(1);
  const before = openResources();
  const config = loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", DATA_DIR: dataDir, PORT: "0" });
  const app = await buildApp(config, { pressure: { maxEventLoopDelayMs: 1_000, retryAfterSeconds: 5 } });
  expect(app.database.embedded).toBe(true);
  const database = new URL(app.database.url);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;

  // It works: migrated, the admin created, the pool and the embedded server in use.
  const login = await fetch(`${base}/api/token/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "admin", password: "12345" }),
  });
  expect(login.status).toBe(200);
  expect((await fetch(`${base}/readyz`)).status).toBe(200);
  expect(await acceptsConnections(Number(database.port), database.hostname)).toBe(true);
  expect(Object.keys(openedSince(before))).toEqual(expect.arrayContaining(["TCPServerWrap", "TCPSocketWrap"]));

  await app.close();
  expect(await acceptsConnections(Number(database.port), database.hostname)).toBe(false);
  expect(app.database.pool.ended).toBe(true);
  await expect.poll(() => openedSince(before), { timeout: 5_000 }).toEqual({});
}, 120_000);
