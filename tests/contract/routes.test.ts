// No route is declared outside openapi.yaml: the API's routes are exactly the spec's operations.
// The only others are the docs pages' own (/docs and its assets, /redoc) and the CORS preflight.
import type { RouteOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { specOperations } from "../helpers/spec-operations.js";

const routes: { method: string; url: string }[] = [];
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp(
    { CORS_ORIGINS: "https://shop.example" },
    {
      observeRoute: (route: RouteOptions) => {
        for (const method of [route.method].flat()) routes.push({ method, url: route.url });
      },
    },
  );
});
afterAll(() => t.close());

const toFastifyPath = (path: string) => path.replace(/\{([^}]+)\}/g, ":$1");
const isDocsPage = (url: string) => ["/docs", "/redoc"].some((page) => url === page || url.startsWith(`${page}/`));
const isInfrastructure = (route: { method: string; url: string }) => isDocsPage(route.url) || route.method === "OPTIONS" || route.method === "HEAD";

describe("routes", () => {
  // Everything else is the docs pages, CORS preflight or HEAD: exactly the spec's operations remain.
  it("come from the spec, one per operation", () => {
    const api = routes
      .filter((route) => !isInfrastructure(route))
      .map((r) => `${r.method} ${r.url}`)
      .sort();
    const spec = specOperations.map((op) => `${op.method} ${toFastifyPath(op.path)}`).sort();
    expect(api).toEqual(spec);
  });
});
