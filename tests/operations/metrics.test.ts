import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { createProduct, viaApp } from "../helpers/factories.js";

describe("metrics", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const sample = (text: string, name: string, labels = ""): number => {
    const line = text.split("\n").find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ""} `) || (labels === "" && l.startsWith(`${name} `)));
    return line ? Number(line.split(" ").pop()) : 0;
  };

  it("counts orders placed, declined and units sold, and labels requests by route template", async () => {
    const admin = await t.adminToken();
    const id = (await createProduct(viaApp(t), admin, { name: "Metered", price: "1", stock: 5 })).id;
    const before = (await t.request({ url: "/metrics" })).body;
    await t.request({ method: "POST", url: "/api/order/", token: admin, payload: { products: [{ id, quantity: 3 }] } });
    await t.request({ method: "POST", url: "/api/order/", token: admin, payload: { products: [{ id, quantity: 3 }] } });
    await t.request({ url: `/api/product/${id}`, token: admin });
    const response = await t.request({ url: "/metrics" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/plain/);
    const after = response.body;
    expect(sample(after, "orders_placed_total") - sample(before, "orders_placed_total")).toBe(1);
    expect(sample(after, "order_units_sold_total") - sample(before, "order_units_sold_total")).toBe(3);
    expect(sample(after, "orders_declined_total", 'reason="insufficient-stock"') - sample(before, "orders_declined_total", 'reason="insufficient-stock"')).toBe(
      1,
    );
    expect(after).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/api\/product\/:id",status_code="200"\} 1/);
    expect(after).not.toMatch(new RegExp(`route="/api/product/${id}"`));
    expect(after).toMatch(/db_pool_connections\{state="total"\} \d+/);
    expect(after).toMatch(/db_query_duration_seconds_count\{model="Product",operation="create"\} 1/);
    expect(after).toMatch(/nodejs_eventloop_lag_seconds/);
  });
});

describe("metrics behind a token", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ METRICS_TOKEN: "a-long-operator-token" });
  });
  afterAll(() => t.close());

  it("answers 401 without the token and 200 with it", async () => {
    expect((await t.request({ url: "/metrics" })).statusCode).toBe(401);
    expect((await t.request({ url: "/metrics", headers: { authorization: "Bearer wrong-token-of-any-length" } })).statusCode).toBe(401);
    expect((await t.request({ url: "/metrics", headers: { authorization: "Bearer a-long-operator-token" } })).statusCode).toBe(200);
  });
});

describe("the contract, served", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it("serves openapi.yaml as JSON and as YAML", async () => {
    const file = parse(readFileSync("openapi.yaml", "utf8"));
    const json = await t.request({ url: "/openapi.json" });
    expect(json.json()).toEqual(file);
    const yaml = await t.request({ url: "/openapi.yaml" });
    expect(yaml.headers["content-type"]).toMatch(/^application\/yaml/);
    expect(parse(yaml.body)).toEqual(file);
  });

  it("serves the docs page from local assets", async () => {
    const page = await t.app.inject({ url: "/docs/" });
    expect(page.statusCode).toBe(200);
    expect(page.body).toMatch(/swagger-ui/i);
    expect(page.body).not.toMatch(/https?:\/\/(cdn|unpkg|cdnjs)/);
  });
});
