import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Fastify from "fastify";
import { loadConfig } from "../../src/infra/config.js";
import { configPlugin } from "../../src/platform/config.js";
import { metricsPlugin } from "../../src/platform/metrics.js";
import { rateLimitsPlugin } from "../../src/accounts/login-limits.js";
import { ADMIN } from "../../support/admin.js";
import { startTestApp, type TestApp } from "../helpers/app.js";

const login = (t: TestApp, name: string, password: string, remoteAddress = "203.0.113.1") =>
  t.request({ method: "POST", url: "/api/token/", payload: { name, password }, remoteAddress });

describe("rate limits on the credential endpoints", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ LOGIN_RATE_LIMIT_PER_MINUTE: 3, REGISTER_RATE_LIMIT_PER_HOUR: 2, LOGIN_FAILURES_BEFORE_DELAY: 3 });
  });
  afterAll(() => t.close());

  it("limits logins per client address with a 429 problem and Retry-After", async () => {
    for (let i = 0; i < 3; i++) expect((await login(t, ADMIN.name, ADMIN.password, "198.51.100.7")).statusCode).toBe(200);
    const limited = await login(t, ADMIN.name, ADMIN.password, "198.51.100.7");
    expect(limited.statusCode).toBe(429);
    expect(limited.json().code).toBe("too-many-requests");
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(limited.headers["retry-after"])).toBeLessThanOrEqual(60);
    // Another address is not affected.
    expect((await login(t, ADMIN.name, ADMIN.password, "198.51.100.8")).statusCode).toBe(200);
  });

  it("names the setting that raises a limit outside production", async () => {
    const register = (name: string) =>
      t.request({ method: "POST", url: "/api/register/", payload: { name, password: "a long enough secret" }, remoteAddress: "203.0.113.77" });
    expect((await register("hint-one")).statusCode).toBe(201);
    expect((await register("hint-two")).statusCode).toBe(201);
    const limited = await register("hint-three");
    expect(limited.statusCode).toBe(429);
    expect(limited.json().detail).toMatch(/Raise REGISTER_RATE_LIMIT_PER_HOUR \(now 2\)/);
  });

  it("limits registrations per client address", async () => {
    const register = (name: string) =>
      t.request({ method: "POST", url: "/api/register/", payload: { name, password: "a long enough secret" }, remoteAddress: "203.0.113.9" });
    expect((await register("first-of-three")).statusCode).toBe(201);
    expect((await register("second-of-three")).statusCode).toBe(201);
    const limited = await register("third-of-three");
    expect(limited.statusCode).toBe(429);
    expect(await t.database.prisma.user.count({ where: { nameKey: "third-of-three" } })).toBe(0);
  });
});

describe("login throttling (per name and client address)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ LOGIN_FAILURES_BEFORE_DELAY: 3 });
  });
  afterAll(() => t.close());

  it("slows down the address that guesses a name, for at most a minute, and never locks the owner out", async () => {
    const user = await t.createUser();
    const attacker = "192.0.2.66";
    for (let i = 0; i < 3; i++) expect((await login(t, user.name, "wrong password", attacker)).statusCode).toBe(401);
    const held = await login(t, user.name, "another guess", attacker);
    expect(held.statusCode).toBe(429);
    expect(Number(held.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(held.headers["retry-after"])).toBeLessThanOrEqual(60);
    // The owner, from their own address, is not affected (issue: a stranger could lock any account).
    expect((await login(t, user.name, user.password, "192.0.2.50")).statusCode).toBe(200);
    // Nor is the attacker's address for other names, within its address budget.
    expect((await login(t, ADMIN.name, ADMIN.password, attacker)).statusCode).toBe(200);
  });

  it("finding 2: a burst of parallel guesses for one name gets at most LOGIN_FAILURES_BEFORE_DELAY checks; the owner elsewhere is unaffected", async () => {
    const user = await t.createUser();
    const attacker = "192.0.2.99";
    // 30 guesses at once, the right password among them (before: all 30 were hashed and the 21st got 200).
    const guesses = Array.from({ length: 30 }, (_, i) => (i === 20 ? user.password : `guess number ${i}`));
    const answers = await Promise.all(guesses.map((password) => login(t, user.name, password, attacker)));
    const checked = answers.filter((a) => a.statusCode !== 429);
    expect(checked.length).toBeLessThanOrEqual(3);
    expect(checked.length).toBeGreaterThan(0);
    for (const answer of checked) expect(answer.statusCode).toBe(401);
    for (const answer of answers.filter((a) => a.statusCode === 429)) {
      expect(answer.json().code).toBe("too-many-requests");
      expect(Number(answer.headers["retry-after"])).toBeGreaterThan(0);
    }
    // The owner, from their own address, logs in; and again and again: a success releases its attempt.
    for (let i = 0; i < 5; i++) expect((await login(t, user.name, user.password, "192.0.2.51")).statusCode).toBe(200);
  });

  it("spreading guesses over many addresses locks no one out either", async () => {
    const user = await t.createUser();
    for (let i = 0; i < 12; i++) expect((await login(t, user.name, "wrong password", `198.18.0.${i + 1}`)).statusCode).toBe(401);
    expect((await login(t, user.name, user.password, "198.18.1.1")).statusCode).toBe(200);
  });
});

describe("default limits by NODE_ENV, through the limiters themselves", () => {
  /** How many attempts from one address pass before the first 429 (up to `ceiling`). */
  async function allowed(env: Record<string, string>, attempt: "beforeRegister" | "beforeLogin", ceiling: number): Promise<number> {
    const app = Fastify({ logger: false });
    await app.register(configPlugin, { config: loadConfig(env) });
    await app.register(metricsPlugin);
    await app.register(rateLimitsPlugin);
    app.post("/attempt", async (request, reply) => {
      await app.authLimits[attempt](request);
      reply.code(204);
    });
    await app.ready();
    try {
      for (let i = 0; i < ceiling; i++) {
        // A distinct name each time, as a test job registers and logs in distinct users.
        const response = await app.inject({ method: "POST", url: "/attempt", payload: { name: `client-test-user-${i}` }, remoteAddress: "203.0.113.200" });
        if (response.statusCode !== 204) {
          expect(response.statusCode).toBe(429);
          return i;
        }
      }
      return ceiling;
    } finally {
      await app.close();
    }
  }

  it("development and test let one address register 1,000 accounts and log in 2,000 times at once", async () => {
    for (const NODE_ENV of ["development", "test"]) {
      expect(await allowed({ NODE_ENV }, "beforeRegister", 1_000)).toBe(1_000);
      expect(await allowed({ NODE_ENV }, "beforeLogin", 2_000)).toBe(2_000);
    }
  }, 120_000);

  it("production keeps its strict defaults", async () => {
    const production = { NODE_ENV: "production", JWT_SECRET: "Zr8mQ2vK9tB4xW7nL1pH6cF3yD5gS0jA" };
    expect(await allowed(production, "beforeRegister", 1_000)).toBe(20);
    expect(await allowed(production, "beforeLogin", 2_000)).toBe(30);
  }, 60_000);
});

describe("security headers and CORS", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ CORS_ORIGINS: "https://shop.example" });
  });
  afterAll(() => t.close());

  it("sends headers fitted to a JSON API", async () => {
    const response = await t.request({ url: "/healthz" });
    expect(response.headers["content-security-policy"]).toBe("default-src 'none';frame-ancestors 'none'");
    expect(response.headers["x-content-type-options"]).toBe("nosniff");
    expect(response.headers["x-frame-options"]).toBe("SAMEORIGIN");
    expect(response.headers["x-powered-by"]).toBeUndefined();
  });

  it("sends HSTS only on https answers, never over plain http", async () => {
    expect((await t.request({ url: "/healthz" })).headers["strict-transport-security"]).toBeUndefined();
    expect((await t.request({ url: "/nowhere" })).headers["strict-transport-security"]).toBeUndefined();
    // Without TRUST_PROXY a client's X-Forwarded-Proto proves nothing.
    const spoofed = await t.request({ url: "/healthz", headers: { "x-forwarded-proto": "https" } });
    expect(spoofed.headers["strict-transport-security"]).toBeUndefined();

    const behindProxy = await startTestApp({ TRUST_PROXY: true });
    try {
      for (const url of ["/healthz", "/nowhere"]) {
        const https = await behindProxy.request({ url, headers: { "x-forwarded-proto": "https" } });
        expect(https.headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
        const http = await behindProxy.request({ url, headers: { "x-forwarded-proto": "http" } });
        expect(http.headers["strict-transport-security"]).toBeUndefined();
      }
    } finally {
      await behindProxy.close();
    }
  });

  it("allows only the configured origins", async () => {
    const preflight = (origin: string) =>
      t.app.inject({ method: "OPTIONS", url: "/api/product/", headers: { origin, "access-control-request-method": "GET" } });
    expect((await preflight("https://shop.example")).headers["access-control-allow-origin"]).toBe("https://shop.example");
    expect((await preflight("https://evil.example")).headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("keeps CORS off by default", async () => {
    const plain = await startTestApp();
    try {
      const response = await plain.app.inject({ url: "/healthz", headers: { origin: "https://shop.example" } });
      expect(response.headers["access-control-allow-origin"]).toBeUndefined();
    } finally {
      await plain.close();
    }
  }, 60_000); // starts an app of its own: most of the default 20 s on a busy machine
});

describe("overload", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({}, { pressure: { maxEventLoopDelayMs: 30, retryAfterSeconds: 3, sampleIntervalMs: 50 } });
  });
  afterAll(() => t.close());

  it("answers 503 problems while the event loop is saturated, and recovers", async () => {
    const busyUntil = Date.now() + 3_000;
    const statuses: number[] = [];
    while (Date.now() < busyUntil && !statuses.includes(503)) {
      const spinUntil = Date.now() + 400;
      while (Date.now() < spinUntil) {
        // saturate the event loop, as a CPU-bound burst would
      }
      await sleep(15); // lets the guard take its next sample, which sees the 400 ms stall
      const response = await t.request({ url: "/healthz" });
      statuses.push(response.statusCode);
      if (response.statusCode === 503) {
        expect(response.headers["retry-after"]).toBe("3");
        expect(response.json().code).toBe("overloaded");
        expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
        expect(response.headers["x-request-id"]).toBe(response.json().request_id);
      }
    }
    expect(statuses).toContain(503);
    await sleep(300);
    expect((await t.request({ url: "/healthz" })).statusCode).toBe(200);
  });
});
