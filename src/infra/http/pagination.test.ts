import type { FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { isAllowedHost, pageLinks, pageRequest, readLinkBase } from "./pagination.js";

/** What pageLinks reads of a request. */
function request(url: string, options: { host?: string; publicUrl?: string; allowedHosts?: string } = {}): FastifyRequest {
  return {
    url,
    host: options.host ?? "shop.example",
    protocol: "https",
    routeOptions: { url: "/api/product/" },
    server: { linkBase: readLinkBase({ publicUrl: options.publicUrl, allowedHosts: options.allowedHosts ?? "shop.example" }) },
  } as unknown as FastifyRequest;
}

describe("pagination", () => {
  it("takes openapi.yaml's default page size when none is asked for", () => {
    expect(pageRequest({})).toEqual({ limit: 5, offset: 0 });
    expect(pageRequest({ limit: 0, offset: 10 })).toEqual({ limit: 0, offset: 10 });
  });

  it("links the next and previous pages, keeping the other query parameters", () => {
    expect(pageLinks(request("/api/product?keyword=tea&offset=5"), 12, 5, 5)).toEqual({
      count: 12,
      next: "https://shop.example/api/product/?keyword=tea&offset=10&limit=5",
      previous: "https://shop.example/api/product/?keyword=tea&limit=5",
    });
  });

  it("has no next page after the last and no previous page before the first", () => {
    expect(pageLinks(request("/api/product/"), 5, 5, 0)).toEqual({ count: 5, next: null, previous: null });
    expect(pageLinks(request("/api/product/?limit=0"), 5, 0, 0)).toEqual({ count: 5, next: null, previous: null });
  });

  it("goes back to the last full page from an offset past the end", () => {
    expect(pageLinks(request("/api/product/?offset=50"), 12, 5, 50).previous).toBe("https://shop.example/api/product/?offset=7&limit=5");
  });

  it("writes relative links for a Host it was not told to trust, absolute ones under PUBLIC_URL", () => {
    expect(pageLinks(request("/api/product/", { host: "evil.example" }), 12, 5, 0).next).toBe("/api/product/?limit=5&offset=5");
    expect(pageLinks(request("/api/product/", { host: "evil.example", publicUrl: "https://api.shop/" }), 12, 5, 0).next).toBe(
      "https://api.shop/api/product/?limit=5&offset=5",
    );
  });

  it("matches allowed hosts by name, name:port or *", () => {
    expect(isAllowedHost("Shop.Example:8080", "shop.example")).toBe(true);
    expect(isAllowedHost("shop.example:8080", "shop.example:9090")).toBe(false);
    expect(isAllowedHost("anything", "*")).toBe(true);
    expect(isAllowedHost(undefined, "*")).toBe(false);
  });
});
