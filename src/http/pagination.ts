import type { FastifyRequest } from "fastify";

export interface PageLinks {
  count: number;
  next: string | null;
  previous: string | null;
}

export const DEFAULT_PAGE_SIZE = 5;

/** `next`/`previous` as absolute URLs that keep the other query parameters, like the reference. */
export function pageLinks(request: FastifyRequest, count: number, limit: number, offset: number): PageLinks {
  const url = new URL(request.url, `${request.protocol}://${request.host}`);
  const at = (newOffset: number | null): string => {
    const params = new URLSearchParams(url.search);
    params.set("limit", String(limit));
    if (newOffset === null) params.delete("offset");
    else params.set("offset", String(newOffset));
    return `${url.origin}${url.pathname}?${params.toString()}`;
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
