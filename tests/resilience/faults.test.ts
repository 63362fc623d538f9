// Unexpected failures answer 500 problems without internals; an unreachable database answers
// 503 with Retry-After. Every operation that needs the database is driven into both.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../helpers/app.js";
import { loadConfig } from "../../src/infra/config.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { assertMatchesSpec } from "../helpers/contract.js";
import { craftToken } from "../helpers/jwt.js";
import { specOperations, urlFor, type SpecOperation } from "../helpers/spec-operations.js";

const WITHOUT_DATABASE = new Set(["getLiveness", "getMetrics", "getOpenApiJson", "getOpenApiYaml", "getReadiness"]);
const needsDatabase = specOperations.filter((op) => !WITHOUT_DATABASE.has(op.operationId));

function signedToken(secret: string, type: "access" | "refresh"): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = { token_type: type, user_id: randomUUID(), jti: randomUUID(), family: randomUUID(), iat: now, exp: now + 600 };
  return craftToken({ alg: "HS256", typ: "JWT" }, claims, secret);
}
const accessToken = (secret: string) => signedToken(secret, "access");

/** The spec's example body, with a genuinely signed refresh token where one is expected. */
function bodyFor(op: SpecOperation, secret: string): object | undefined {
  const example = op.bodyExample as Record<string, unknown> | undefined;
  return example && "refresh" in example ? { refresh: signedToken(secret, "refresh") } : example;
}

describe("when the database fails unexpectedly", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.adminToken();
    // Every query now fails with "relation does not exist": a fault no handler expects.
    await t.database.pool.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  });
  afterAll(() => t.close());

  it.each(needsDatabase)("$operationId answers a 500 problem without internals", async (op) => {
    const response = await t.request({
      method: op.method,
      url: urlFor(op),
      token: accessToken(t.config.JWT_SECRET),
      payload: bodyFor(op, t.config.JWT_SECRET),
    });
    expect(response.statusCode).toBe(500);
    const body = response.json();
    expect(body).toMatchObject({ code: "internal-error", request_id: expect.any(String) });
    expect(response.body).not.toMatch(/relation|SELECT|prisma|stack|\.ts:/i);
  });
});

describe("when the database is unreachable", () => {
  // No ADMIN_PASSWORD: the app would create the admin before serving, which needs the database.
  const config = { ...loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent" }), ADMIN_PASSWORD: undefined, LOGIN_RATE_LIMIT_PER_MINUTE: 100_000, DB_POOL_MAX: 2 };
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp(config, {
      database: { url: "postgres://nobody:nothing@127.0.0.1:9/none" },
      logger: false,
    });
  });
  afterAll(() => app.close());

  it.each([...needsDatabase, specOperations.find((op) => op.operationId === "getReadiness")!])("$operationId answers 503 with Retry-After", async (op) => {
    const response = await app.inject({
      method: op.method as "GET",
      url: urlFor(op),
      headers: { authorization: `Bearer ${accessToken(config.JWT_SECRET)}` },
      ...(op.bodyExample ? { payload: bodyFor(op, config.JWT_SECRET) } : {}),
    });
    assertMatchesSpec(op.method, urlFor(op), response);
    expect(response.statusCode).toBe(503);
    expect(response.headers["retry-after"]).toBe("5");
    expect(response.json().code).toBe("service-unavailable");
  });

  it("stays alive: liveness answers 200", async () => {
    expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
  });
});
