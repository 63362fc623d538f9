import type { HandlersFor } from "../infra/http/operation-types.js";
import { linkBase } from "../infra/http/pagination.js";
import type { EventsRepository } from "./events-repository.js";
import { decodePosition, encodePosition } from "./stream-cursor.js";

export function eventHandlers(deps: { events: EventsRepository }): HandlersFor<"listEvents"> {
  const { events } = deps;
  return {
    async listEvents(request) {
      const { after, type, limit = 100 } = request.query;
      const position = after === undefined ? undefined : decodePosition(after);
      // One more than the page, to tell whether more follow already.
      const rows = await events.page(position, type, limit + 1);
      const results = rows.slice(0, limit);
      const last = results.at(-1);
      const cursor = last ? encodePosition(last) : (after ?? null);
      const params = new URLSearchParams();
      if (cursor !== null) params.set("after", cursor);
      for (const t of type ?? []) params.append("type", t);
      params.set("limit", String(limit));
      return {
        cursor,
        next: `${linkBase(request, request.server.linkBase)}/api/event/?${params.toString()}`,
        has_more: rows.length > limit,
        results: results.map((event) => ({ id: event.id, type: event.type, occurred_at: event.occurredAt.toISOString(), data: event.data })),
      };
    },
  };
}
