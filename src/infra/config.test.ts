import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, ConfigError, loadConfig } from "./config.js";

const STRONG_SECRET = "q7Lr2w9XvN4kTe8bZc1pYh6sJm3dGf5a";

describe("configuration", () => {
  it("is documented: the reference names every variable the service reads", () => {
    const reference = readFileSync(new URL("../../docs/reference/configuration.md", import.meta.url), "utf8");
    expect(CONFIG_VARIABLES.filter((name) => !reference.includes(`\`${name}\``))).toEqual([]);
  });

  it("has working defaults for development", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ NODE_ENV: "development", HOST: "127.0.0.1", PORT: 8000, ADMIN_PASSWORD: "12345", WORKERS: 1 });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.JWT_SECRET.length).toBeGreaterThanOrEqual(32);
  });

  it("reads and converts the environment", () => {
    const config = loadConfig({ PORT: "9000", DATABASE_URL: "postgres://u:p@db:5432/shop", TRUST_PROXY: "true", DB_POOL_MAX: "25" });
    expect(config).toMatchObject({ PORT: 9000, DATABASE_URL: "postgres://u:p@db:5432/shop", TRUST_PROXY: true, DB_POOL_MAX: 25 });
  });

  it("treats an empty value as unset", () => {
    expect(loadConfig({ ADMIN_PASSWORD: "", METRICS_TOKEN: "" }).METRICS_TOKEN).toBeUndefined();
  });

  it.each([
    [{ PORT: "eighty" }, /PORT/],
    [{ DATABASE_URL: "mysql://x" }, /DATABASE_URL/],
    [{ JWT_SECRET: "short" }, /JWT_SECRET/],
    [{ LOG_LEVEL: "loud" }, /LOG_LEVEL/],
    [{ PUBLIC_URL: "shop.example" }, /PUBLIC_URL/],
    [{ PUBLIC_URL: "https://shop.example/?x=1" }, /PUBLIC_URL/],
    // Issue 27, finding 10: it says how to make one.
    [{ NODE_ENV: "production" }, /JWT_SECRET is required when NODE_ENV=production \(at least 32 characters\); generate one with `openssl rand -base64 48`/],
  ])("refuses %j with a clear message", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it("uses no development default in production", () => {
    const config = loadConfig({ NODE_ENV: "production", JWT_SECRET: STRONG_SECRET });
    expect(config.ADMIN_PASSWORD).toBeUndefined();
    expect(config.JWT_SECRET).toBe(STRONG_SECRET);
    expect(config.ALLOWED_HOSTS).toBe("");
  });

  it("trusts only localhost forms of Host for links in development, unless told otherwise", () => {
    expect(loadConfig({}).ALLOWED_HOSTS).toBe("localhost,127.0.0.1,[::1]");
    expect(loadConfig({ ALLOWED_HOSTS: "shop.example" }).ALLOWED_HOSTS).toBe("shop.example");
    expect(loadConfig({ PUBLIC_URL: "https://shop.example/orders" }).PUBLIC_URL).toBe("https://shop.example/orders");
  });

  describe("production refuses well-known and weak secrets", () => {
    const placeholder = parseAllDocuments(readFileSync("deploy/secret.example.yaml", "utf8"))
      .map((doc) => doc.toJS())
      .find((doc) => doc?.kind === "Secret").stringData.JWT_SECRET as string;
    const developmentDefault = loadConfig({}).JWT_SECRET;

    it.each([
      ["the development default", developmentDefault, /published default or placeholder/],
      ["the placeholder of deploy/secret.example.yaml", placeholder, /published default or placeholder/],
      ["one character repeated", "s".repeat(32), /fewer than 12 distinct characters/],
      ["a short pattern repeated", "abc123".repeat(6), /fewer than 12 distinct characters/],
    ])("%s", (_label, secret, reason) => {
      expect(() => loadConfig({ NODE_ENV: "production", JWT_SECRET: secret })).toThrow(ConfigError);
      expect(() => loadConfig({ NODE_ENV: "production", JWT_SECRET: secret })).toThrow(reason);
      expect(() => loadConfig({ NODE_ENV: "production", JWT_SECRET: secret })).toThrow(/openssl rand/);
    });

    it("accepts a random one (openssl rand -hex 32)", () => {
      expect(loadConfig({ NODE_ENV: "production", JWT_SECRET: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }).NODE_ENV).toBe(
        "production",
      );
    });
  });

  describe("abuse limits", () => {
    it("let a client's test job work in development and test: 1,000 registrations and 2,000 logins in ten minutes", () => {
      for (const NODE_ENV of ["development", "test"]) {
        const config = loadConfig({ NODE_ENV });
        // Limits per hour and per minute; a test job may send everything within one window.
        expect(config.REGISTER_RATE_LIMIT_PER_HOUR).toBeGreaterThanOrEqual(1_000);
        expect(config.LOGIN_RATE_LIMIT_PER_MINUTE).toBeGreaterThanOrEqual(2_000);
      }
    });

    it("stay strict in production, and configurable everywhere", () => {
      expect(loadConfig({ NODE_ENV: "production", JWT_SECRET: STRONG_SECRET })).toMatchObject({
        LOGIN_RATE_LIMIT_PER_MINUTE: 30,
        REGISTER_RATE_LIMIT_PER_HOUR: 20,
        LOGIN_FAILURES_BEFORE_DELAY: 5,
        REGISTER_ATTEMPTS_PER_NAME_PER_HOUR: 10,
      });
      expect(loadConfig({ NODE_ENV: "production", JWT_SECRET: STRONG_SECRET, REGISTER_RATE_LIMIT_PER_HOUR: "50" }).REGISTER_RATE_LIMIT_PER_HOUR).toBe(50);
      expect(loadConfig({ LOGIN_RATE_LIMIT_PER_MINUTE: "7" }).LOGIN_RATE_LIMIT_PER_MINUTE).toBe(7);
    });
  });
});
