import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("configuration", () => {
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
    [{ NODE_ENV: "production" }, /JWT_SECRET is required when NODE_ENV=production/],
  ])("refuses %j with a clear message", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it("uses no development default in production", () => {
    const config = loadConfig({ NODE_ENV: "production", JWT_SECRET: "s".repeat(32) });
    expect(config.ADMIN_PASSWORD).toBeUndefined();
    expect(config.JWT_SECRET).toBe("s".repeat(32));
    expect(config.ALLOWED_HOSTS).toBe("");
  });

  it("trusts only localhost forms of Host for links in development, unless told otherwise", () => {
    expect(loadConfig({}).ALLOWED_HOSTS).toBe("localhost,127.0.0.1,[::1]");
    expect(loadConfig({ ALLOWED_HOSTS: "shop.example" }).ALLOWED_HOSTS).toBe("shop.example");
    expect(loadConfig({ PUBLIC_URL: "https://shop.example/orders" }).PUBLIC_URL).toBe("https://shop.example/orders");
  });
});
