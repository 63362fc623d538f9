import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe("health", () => {
  it("answers liveness and readiness", async () => {
    const live = await t.request({ url: "/healthz" });
    expect(live.statusCode).toBe(200);
    expect(live.json()).toEqual({ status: "ok" });
    const ready = await t.request({ url: "/readyz/" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: "ready" });
  });

  it("is not ready once shutdown has begun", async () => {
    t.app.lifecycle.shuttingDown = true;
    try {
      const ready = await t.request({ url: "/readyz" });
      expect(ready.statusCode).toBe(503);
      expect(ready.headers["retry-after"]).toBe("5");
    } finally {
      t.app.lifecycle.shuttingDown = false;
    }
  });
});

describe("problem answers", () => {
  it("answers an unknown path with a 404 problem", async () => {
    const response = await t.request({ url: "/api/nothing-here" });
    expect(response.statusCode).toBe(404);
    expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({
      type: "urn:order-service:problem:not-found",
      title: "Not Found",
      status: 404,
      instance: "/api/nothing-here",
      code: "not-found",
    });
  });

  it("answers malformed JSON with a 400 problem", async () => {
    const token = await t.adminToken();
    const response = await t.request({
      method: "POST",
      url: "/api/product/",
      token,
      headers: { "content-type": "application/json" },
      payload: '{"name": "Broken", ',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: "malformed-json", status: 400 });
  });

  it("answers a schema-violating body with each failure in errors", async () => {
    const token = await t.adminToken();
    const response = await t.request({
      method: "POST",
      url: "/api/product/",
      token,
      payload: { name: "", price: "abc", stock: -1, colour: "red" },
    });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body.code).toBe("validation-failed");
    const paths = body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(["/body/name", "/body/price", "/body/stock", "/body/colour"]));
  });

  it("answers a missing required field by name", async () => {
    const response = await t.request({ method: "POST", url: "/api/token/", payload: { name: "admin" } });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors).toEqual([{ path: "/body/password", message: "must have required property 'password'" }]);
  });

  it.each(["text/plain", "application/yaml", "application/problem+json", "application/x-www-form-urlencoded"])(
    "answers a %s body with 415",
    async (contentType) => {
      const response = await t.request({ method: "POST", url: "/api/token/", headers: { "content-type": contentType }, payload: "name=admin" });
      expect(response.statusCode).toBe(415);
      expect(response.json().code).toBe("unsupported-media-type");
    },
  );

  it("answers a client error of no more specific kind as bad-request, not as a validation failure", async () => {
    const response = await t.request({
      method: "POST",
      url: "/api/token/",
      headers: { "content-type": "application/json", "content-length": "5" },
      payload: JSON.stringify({ name: "admin", password: "12345" }),
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: "bad-request", title: "Bad Request", type: "urn:order-service:problem:bad-request" });
    expect(response.json().errors).toBeUndefined();
  });

  it("answers an oversized body with 413", async () => {
    const response = await t.request({
      method: "POST",
      url: "/api/token/",
      payload: { name: "admin", password: "x".repeat(t.config.BODY_LIMIT_BYTES) },
    });
    expect(response.statusCode).toBe(413);
    expect(response.json().code).toBe("payload-too-large");
  });

  it("serves every path with and without its trailing slash", async () => {
    const token = await t.adminToken();
    for (const url of ["/api/product", "/api/product/", "/api/order", "/api/order/", "/api/user", "/api/user/"]) {
      const response = await t.request({ url, token });
      expect(response.statusCode, url).toBe(200);
    }
    const withSlash = await t.request({ method: "POST", url: "/api/token", payload: { name: "admin", password: "wrong" } });
    expect(withSlash.statusCode).toBe(401);
  });
});
