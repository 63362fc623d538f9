// Issue 27, finding 3: "the development admin works in production". A development run creates
// admin/12345; a production start on the same data must never let that password sign in.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { loadConfig } from "../../src/infra/config.js";
import { ADMIN } from "../../support/admin.js";
import { buildApp } from "../helpers/app.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const PRODUCTION = { NODE_ENV: "production", LOG_LEVEL: "silent", JWT_SECRET: "Zr8mQ2vK9tB4xW7nL1pH6cF3yD5gS0jA", DB_POOL_MAX: "5" };

describe("finding 3: the development admin never works in production", () => {
  let database: TestDatabase;
  /** The one database, kept open across the apps started on it. */
  const shared = () => ({ ...database, close: async () => {} });
  const start = (env: Record<string, string>) => buildApp(loadConfig(env), { database: shared(), logger: false });
  const login = (app: FastifyInstance, password: string) =>
    app.inject({ method: "POST", url: "/api/token/", payload: { name: ADMIN.name, password }, remoteAddress: "203.0.113.5" });

  beforeAll(async () => {
    database = await createTestDatabase();
    const development = await start({ NODE_ENV: "development", LOG_LEVEL: "silent" });
    expect((await login(development, ADMIN.password)).statusCode).toBe(200);
    await development.close();
  });
  afterAll(() => database?.close());

  it("refuses to start in production, in one line saying what to do, while admin has the development password", async () => {
    // Before: it started, and admin/12345 got tokens.
    await expect(start(PRODUCTION)).rejects.toThrow(
      /^The "admin" account has the development password, refused in production: start once with ADMIN_PASSWORD=<a strong password> to replace it, or delete the account\.$/,
    );
  });

  it("refuses ADMIN_PASSWORD=12345 in production", () => {
    expect(() => loadConfig({ ...PRODUCTION, ADMIN_PASSWORD: ADMIN.password })).toThrow(/ADMIN_PASSWORD is the development password, refused in production/);
  });

  it("with ADMIN_PASSWORD, replaces the development password: 12345 is refused, the new one signs in", async () => {
    const production = await start({ ...PRODUCTION, ADMIN_PASSWORD: "a strong production password" });
    try {
      const refused = await login(production, ADMIN.password);
      expect(refused.statusCode).toBe(401);
      expect(refused.json().code).toBe("invalid-credentials");
      expect((await login(production, "a strong production password")).statusCode).toBe(200);
    } finally {
      await production.close();
    }
    // And the next production start, without ADMIN_PASSWORD, is no longer refused.
    const again = await start(PRODUCTION);
    expect((await login(again, ADMIN.password)).statusCode).toBe(401);
    await again.close();
  });
});
