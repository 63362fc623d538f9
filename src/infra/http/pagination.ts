import fp from "fastify-plugin";
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
export const linkBasePlugin = fp(
  async (app: FastifyInstance, base: LinkBase) => {
    app.decorate("linkBase", base);
  },
  { name: "link-base", fastify: "5.x" },
);

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

/** The request's query string as parameters, in the order the client sent them. */
function queryOf(request: FastifyRequest): URLSearchParams {
  return new URLSearchParams(request.url.includes("?") ? request.url.slice(request.url.indexOf("?")) : "");
}

/** True when the client sent this query parameter itself (validation fills in defaults). */
export function sentInQuery(request: FastifyRequest, name: string): boolean {
  return queryOf(request).has(name);
}

/** The documented path of the request's route, after the origin links may use. */
function linkPrefix(request: FastifyRequest): string {
  const origin = linkBase(request, request.server.linkBase);
  return `${origin}${request.routeOptions.url ?? new URL(request.url, "http://x").pathname}`;
}

/**
 * `next`/`previous` of a cursor page: the request's other parameters, with `cursor` set to each
 * neighbour's (opaque) cursor and no `offset`.
 */
export function cursorLinks(request: FastifyRequest, count: number, limit: number, next: string | null, previous: string | null): PageLinks {
  const prefix = linkPrefix(request);
  const query = queryOf(request);
  const at = (cursor: string | null): string | null => {
    if (cursor === null) return null;
    const params = new URLSearchParams(query);
    params.delete("offset");
    params.set("limit", String(limit));
    params.set("cursor", cursor);
    return `${prefix}?${params.toString()}`;
  };
  return { count, next: at(next), previous: at(previous) };
}

/**
 * `next`/`previous` that keep the other query parameters, like the reference. The path is always
 * the documented one (the route's template, e.g. `/api/product/`), whichever form the client sent.
 */
export function pageLinks(request: FastifyRequest, count: number, limit: number, offset: number): PageLinks {
  const prefix = linkPrefix(request);
  const query = queryOf(request);
  const at = (newOffset: number | null): string => {
    const params = new URLSearchParams(query);
    params.set("limit", String(limit));
    if (newOffset === null) params.delete("offset");
    else params.set("offset", String(newOffset));
    return `${prefix}?${params.toString()}`;
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
