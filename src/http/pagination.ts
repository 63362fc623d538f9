import type { FastifyInstance, FastifyRequest } from "fastify";
import { SPEC_LIMITS } from "../spec-limits.js";

export interface PageLinks {
  count: number;
  next: string | null;
  previous: string | null;
}

/** The page a list operation's `limit` and `offset` ask for (openapi.yaml's defaults when absent). */
export function pageRequest(query: { limit?: number; offset?: number }): { limit: number; offset: number } {
  return { limit: query.limit ?? SPEC_LIMITS.defaultPageSize, offset: query.offset ?? 0 };
}

/** Where absolute links may point: PUBLIC_URL, else the request's Host when it is an allowed one. */
export interface LinkBase {
  publicUrl?: string;
  allowedHosts: string;
}

declare module "fastify" {
  interface FastifyInstance {
    linkBase: LinkBase;
  }
}

/** Tells pageLinks where absolute links may point (from PUBLIC_URL and ALLOWED_HOSTS). */
export function registerLinkBase(app: FastifyInstance, base: LinkBase): void {
  app.decorate("linkBase", base);
}

/**
 * The origin (plus any path prefix) that links start with, or "" for relative links. A Host
 * that is not allowed never reaches an answer (host-header poisoning), so links become relative.
 */
export function linkBase(request: FastifyRequest, base: LinkBase): string {
  if (base.publicUrl) return base.publicUrl.replace(/\/+$/, "");
  return isAllowedHost(request.host, base.allowedHosts) ? `${request.protocol}://${request.host}` : "";
}

/** `name` allows the host on any port, `name:port` one port, `*` every host. */
export function isAllowedHost(host: string | undefined, allowedHosts: string): boolean {
  if (!host) return false;
  const wanted = host.toLowerCase();
  const hostname = wanted.replace(/:\d+$/, "");
  return allowedHosts
    .split(",")
    .map((entry) => entry.trim().toLowerCase())
    .some((entry) => entry === "*" || entry === wanted || entry === hostname);
}

/**
 * `next`/`previous` that keep the other query parameters, like the reference. The path is always
 * the documented one (the route's template, e.g. `/api/product/`), whichever form the client sent.
 */
export function pageLinks(request: FastifyRequest, count: number, limit: number, offset: number): PageLinks {
  const origin = linkBase(request, request.server.linkBase);
  const path = request.routeOptions.url ?? new URL(request.url, "http://x").pathname;
  const query = new URLSearchParams(request.url.includes("?") ? request.url.slice(request.url.indexOf("?")) : "");
  const at = (newOffset: number | null): string => {
    const params = new URLSearchParams(query);
    params.set("limit", String(limit));
    if (newOffset === null) params.delete("offset");
    else params.set("offset", String(newOffset));
    return `${origin}${path}?${params.toString()}`;
  };
  const hasNext = limit > 0 && offset + limit < count;
  const hasPrevious = limit > 0 && offset > 0;
  const previousOffset = Math.max(0, Math.min(offset, count) - limit);
  return {
    count,
    next: hasNext ? at(offset + limit) : null,
    previous: hasPrevious ? at(previousOffset === 0 ? null : previousOffset) : null,
  };
}
