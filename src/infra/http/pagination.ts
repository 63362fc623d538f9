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
export interface LinkBaseOptions {
  publicUrl?: string;
  allowedHosts: string;
}

/** LinkBaseOptions read once, at start-up. */
export interface LinkBase {
  /** PUBLIC_URL without its trailing slashes. */
  publicOrigin?: string;
  allowsHost(host: string | undefined): boolean;
}

declare module "fastify" {
  interface FastifyInstance {
    linkBase: LinkBase;
  }
}

export function readLinkBase(options: LinkBaseOptions): LinkBase {
  return { ...(options.publicUrl ? { publicOrigin: options.publicUrl.replace(/\/+$/, "") } : {}), allowsHost: allowedHosts(options.allowedHosts) };
}

/** Tells pageLinks where absolute links may point (from PUBLIC_URL and ALLOWED_HOSTS). */
export const linkBasePlugin = fp(
  async (app: FastifyInstance, options: LinkBaseOptions) => {
    app.decorate("linkBase", readLinkBase(options));
  },
  { name: "link-base", fastify: "5.x" },
);

/**
 * The origin (plus any path prefix) that links start with, or "" for relative links. A Host
 * that is not allowed never reaches an answer (host-header poisoning), so links become relative.
 */
export function linkBase(request: FastifyRequest, base: LinkBase): string {
  if (base.publicOrigin !== undefined) return base.publicOrigin;
  return base.allowsHost(request.host) ? `${request.protocol}://${request.host}` : "";
}

/** ALLOWED_HOSTS as a test: `name` allows the host on any port, `name:port` one port, `*` every host. */
function allowedHosts(list: string): (host: string | undefined) => boolean {
  const entries = new Set(list.split(",").map((entry) => entry.trim().toLowerCase()));
  if (entries.has("*")) return (host) => Boolean(host);
  return (host) => {
    if (!host) return false;
    const wanted = host.toLowerCase();
    return entries.has(wanted) || entries.has(wanted.replace(/:\d+$/, ""));
  };
}

export const isAllowedHost = (host: string | undefined, list: string): boolean => allowedHosts(list)(host);

/** Each request's query string as parameters, in the order the client sent them: parsed once, when needed. */
const queries = new WeakMap<FastifyRequest, URLSearchParams>();

function queryOf(request: FastifyRequest): URLSearchParams {
  let query = queries.get(request);
  if (query === undefined) {
    const at = request.url.indexOf("?");
    query = new URLSearchParams(at < 0 ? "" : request.url.slice(at));
    queries.set(request, query);
  }
  return query;
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
  const at = (cursor: string | null): string | null => {
    if (cursor === null) return null;
    const params = new URLSearchParams(queryOf(request));
    params.delete("offset");
    params.set("limit", String(limit));
    params.set("cursor", cursor);
    return `${linkPrefix(request)}?${params.toString()}`;
  };
  return { count, next: at(next), previous: at(previous) };
}

/**
 * `next`/`previous` that keep the other query parameters, like the reference. The path is always
 * the documented one (the route's template, e.g. `/api/product/`), whichever form the client sent.
 */
export function pageLinks(request: FastifyRequest, count: number, limit: number, offset: number): PageLinks {
  const at = (newOffset: number | null): string => {
    const params = new URLSearchParams(queryOf(request));
    params.set("limit", String(limit));
    if (newOffset === null) params.delete("offset");
    else params.set("offset", String(newOffset));
    return `${linkPrefix(request)}?${params.toString()}`;
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
