// What an operator gets from a request: an id that is unique across processes, sent back in
// X-Request-Id and in every problem body, and one log line per problem saying why.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../helpers/app.js";
import { loadConfig } from "../../src/infra/config.js";
import { startTestApp, type TestApp } from "../helpers/app.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

interface LogLine {
  level: number;
  msg: string;
  request_id?: string;
  problem?: { status: number; code: string; detail: string; errors?: unknown[] };
  err?: { message: string; type: string; stack?: string };
  req?: { url: string };
  [key: string]: unknown;
}

/** A pino logger writing JSON lines into an array, as production's logs do. */
function capturingLogger(level = "debug") {
  const lines: LogLine[] = [];
  return { lines, logger: { level, stream: { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) } } };
}

const forRequest = (lines: LogLine[], id: string) => lines.filter((line) => line.request_id === id);

let t: TestApp;
let logs: LogLine[];
beforeAll(async () => {
  const capture = capturingLogger();
  logs = capture.lines;
  t = await startTestApp({}, { logger: capture.logger });
});
afterAll(() => t.close());

describe("request ids", () => {
  it("are UUIDv7, different for every request, and sent back on every kind of answer", async () => {
    const token = await t.adminToken();
    const answers = await Promise.all([
      t.request({ url: "/healthz" }),
      t.request({ url: "/api/product/", token }),
      t.request({ url: "/api/product/" }), // 401
      t.request({ url: "/api/no-such-route" }), // 404
      t.request({ method: "POST", url: "/api/product/", token, payload: { name: "" } }), // 400
      t.request({ url: "/openapi.json" }),
    ]);
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 401, 404, 400, 200]);
    const ids = answers.map((a) => String(a.headers["x-request-id"]));
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("are in every problem body, equal to the header, 4xx included", async () => {
    for (const response of [
      await t.request({ url: "/api/product/" }),
      await t.request({ url: "/api/no-such-route" }),
      await t.request({ method: "POST", url: "/api/token/", payload: { name: "admin", password: "wrong" } }),
    ]) {
      expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(response.json().request_id).toBe(response.headers["x-request-id"]);
    }
  });

  it("never repeat across app instances, as replicas or a restart would be", async () => {
    const other = await startTestApp();
    try {
      const fromEach = await Promise.all([t, other].map((app) => Promise.all(Array.from({ length: 50 }, () => app.request({ url: "/healthz" })))));
      const ids = fromEach.flat().map((a) => String(a.headers["x-request-id"]));
      expect(new Set(ids).size).toBe(100);
    } finally {
      await other.close();
    }
  }, 60_000); // starts an app of its own: most of the default 20 s on a busy machine

  it("echo a client's well-formed X-Request-Id, and replace a malformed one", async () => {
    const echoed = await t.request({ url: "/healthz", headers: { "x-request-id": "checkout-7f3a:42" } });
    expect(echoed.headers["x-request-id"]).toBe("checkout-7f3a:42");
    expect(forRequest(logs, "checkout-7f3a:42").length).toBeGreaterThan(0);
    const problem = await t.request({ url: "/api/order/", headers: { "x-request-id": "client-id-1" } });
    expect(problem.json().request_id).toBe("client-id-1");

    for (const bad of ["has spaces in it", "x".repeat(200), "<script>", 'quote"d']) {
      const replaced = await t.request({ url: "/healthz", headers: { "x-request-id": bad } });
      expect(replaced.headers["x-request-id"]).toMatch(UUID_V7);
    }
  });
});

describe("logs", () => {
  it("log a client error at info with its problem code and detail, under the request id", async () => {
    const response = await t.request({ method: "POST", url: "/api/product/", token: await t.adminToken(), payload: { name: "Tea", price: "-1", stock: 1 } });
    expect(response.statusCode).toBe(400);
    const line = forRequest(logs, String(response.headers["x-request-id"])).find((l) => l.problem);
    expect(line).toMatchObject({
      level: LEVEL.info,
      problem: { status: 400, code: "validation-failed", detail: response.json().detail, errors: response.json().errors },
    });
    expect(line!.msg).toContain("validation-failed");
    expect(line!.err).toBeUndefined();
  });

  it("log a 404 and a 401 at info too", async () => {
    for (const [url, code] of [
      ["/api/nowhere", "not-found"],
      ["/api/order/", "unauthorized"],
    ] as const) {
      const response = await t.request({ url });
      const line = forRequest(logs, String(response.headers["x-request-id"])).find((l) => l.problem);
      expect(line).toMatchObject({ level: LEVEL.info, problem: { code, status: response.statusCode } });
    }
  });

  it("log probes at debug, other requests at info", async () => {
    const probe = await t.request({ url: "/readyz" });
    const probeLines = forRequest(logs, String(probe.headers["x-request-id"]));
    expect(probeLines.map((l) => l.msg)).toEqual(expect.arrayContaining(["incoming request", "request completed"]));
    for (const line of probeLines) expect(line.level).toBe(LEVEL.debug);

    const other = await t.request({ url: "/openapi.json" });
    const otherLines = forRequest(logs, String(other.headers["x-request-id"]));
    expect(otherLines.find((l) => l.msg === "request completed")?.level).toBe(LEVEL.info);
  });

  it("log an unexpected failure at error, with the error behind it", async () => {
    const capture = capturingLogger();
    const broken = await startTestApp({}, { logger: capture.logger });
    try {
      const token = await broken.adminToken();
      await broken.database.pool.query("DROP TABLE order_items CASCADE");
      const response = await broken.request({ url: "/api/order/", token });
      expect(response.statusCode).toBe(500);
      const id = String(response.headers["x-request-id"]);
      expect(response.json().request_id).toBe(id);
      const line = forRequest(capture.lines, id).find((l) => l.problem);
      expect(line).toMatchObject({ level: LEVEL.error, problem: { status: 500, code: "internal-error" } });
      expect(line!.err?.message).toMatch(/order_items/);
      expect(line!.err?.stack).toBeTruthy();
    } finally {
      await broken.close();
    }
  }, 60_000);

  it("log a 503 at warn with the cause: an unreachable database, on a login and on /readyz", async () => {
    const capture = capturingLogger();
    const config = { ...loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent" }), ADMIN_PASSWORD: undefined, DB_POOL_MAX: 2 };
    const app = await buildApp(config, {
      database: { url: "postgres://nobody:nothing@127.0.0.1:9/none" },
      logger: capture.logger,
    });
    try {
      const login = () => app.inject({ method: "POST", url: "/api/token/", payload: { name: "admin", password: "12345" } });
      const readiness = () => app.inject({ url: "/readyz" });
      for (const response of [await login(), await readiness()]) {
        expect(response.statusCode).toBe(503);
        const id = String(response.headers["x-request-id"]);
        expect(response.json().request_id).toBe(id);
        const line = forRequest(capture.lines, id).find((l) => l.problem);
        expect(line).toMatchObject({ level: LEVEL.warn, problem: { status: 503, code: "service-unavailable" } });
        expect(JSON.stringify(line!.err)).toMatch(/can't reach database server|ECONNREFUSED|timeout/i);
      }
    } finally {
      await app.close();
    }
  });
});
