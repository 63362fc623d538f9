import { createHash } from "node:crypto";
import type { FastifyReply } from "fastify";
import { INT4_MAX } from "../shared/ids.js";
import type { ExpectedVersion } from "./products-repository.js";

// Entity tags and the conditional headers that carry them (RFC 9110, section 13). A product's tag
// is its id and version: the version is moved on by a database trigger at every change of the
// row, so a tag changes at once for every replica. A list's tag digests what its body shows.

/** Clients may keep a product answer but must revalidate it; shared caches must not keep it. */
export const REVALIDATE = "private, no-cache";

export function productETag(product: { id: number; version: number }): string {
  return `"${product.id}-${product.version}"`;
}

/**
 * A page's tag: a digest of everything its body shows (count, links, and each product by id and
 * version, in order), so it changes when any of them does, including the links' host.
 */
export function pageETag(page: { count: number; next: string | null; previous: string | null }, products: readonly { id: number; version: number }[]): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([page.count, page.next, page.previous, products.map((p) => `${p.id}-${p.version}`)]))
    .digest("base64url");
  return `"${digest.slice(0, 27)}"`;
}

/** The tags of an If-None-Match or If-Match value, or "*". Unquoted junk matches nothing. */
function entityTags(header: string): { any: boolean; tags: { weak: boolean; opaque: string }[] } {
  const tags = [...header.matchAll(/(W\/)?"([^"]*)"/g)].map((m) => ({ weak: m[1] !== undefined, opaque: m[2]! }));
  return { any: header.trim() === "*", tags };
}

/** If-None-Match uses the weak comparison: W/"x" matches "x". */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const { any, tags } = entityTags(header);
  return any || tags.some((tag) => `"${tag.opaque}"` === etag.replace(/^W\//, ""));
}

/**
 * What an If-Match value expects of product `id`: undefined (no condition), "any" (`*`), or the
 * versions its tags name for this product (strong comparison: a weak tag never matches).
 */
export function expectedVersion(header: string | undefined, id: number): ExpectedVersion | undefined {
  if (header === undefined) return undefined;
  const { any, tags } = entityTags(header);
  if (any) return "any";
  // Only the exact text this service writes ("<id>-<version>", no leading zeros) is this product's tag.
  const versions = tags
    .filter((tag) => !tag.weak)
    .map((tag) => /^(\d+)-([1-9]\d{0,9})$/.exec(tag.opaque))
    .filter((m): m is RegExpExecArray => m !== null && m[1] === String(id) && Number(m[2]) <= INT4_MAX)
    .map((m) => Number(m[2]));
  return { versions };
}

/** Sets the tag and Cache-Control; true when the client's If-None-Match holds it (answer 304). */
export function notModified(reply: FastifyReply, ifNoneMatch: string | undefined, etag: string): boolean {
  reply.header("etag", etag).header("cache-control", REVALIDATE);
  return noneMatch(ifNoneMatch, etag);
}
