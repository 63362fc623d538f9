import { invalidFields } from "../errors/app-error.js";
import { isIsoMillisecondTimestamp } from "../shared/timestamps.js";
import { isSerialId } from "../shared/ids.js";
import type { OrderFilter } from "./list-statements.js";

/** A position in the back-office list: an order's `created_at` (ISO, to the millisecond) and id. */
export type OrderKey = [createdAt: string, id: number];

/**
 * Where a back-office page starts: after `key` (forward: older orders) or before it (backward:
 * newer), in the list filtered by `filter`. Without a key: from the newest (forward) or the oldest.
 */
export interface OrderCursor {
  filter: OrderFilter;
  direction: "forward" | "backward";
  key?: OrderKey;
}

/** The cursor's wire form, before base64url: short names keep links short. */
interface CursorJson {
  v: 1;
  /** The filter it belongs to (see filterSignature). */
  f: string;
  /** "n": after the key, "p": before it. */
  d: "n" | "p";
  k?: OrderKey;
}

const CURSOR_KEYS = new Set(["v", "f", "d", "k"]);

/** The filter as one string; statuses are sorted, so their order in the query does not matter. */
export function filterSignature(filter: OrderFilter): string {
  return JSON.stringify([
    filter.userId ?? null,
    filter.statuses ? [...filter.statuses].sort() : null,
    filter.createdAfter ?? null,
    filter.createdBefore ?? null,
  ]);
}

export function encodeOrderCursor(cursor: OrderCursor): string {
  const json: CursorJson = { v: 1, f: filterSignature(cursor.filter), d: cursor.direction === "forward" ? "n" : "p", ...(cursor.key ? { k: cursor.key } : {}) };
  return Buffer.from(JSON.stringify(json)).toString("base64url");
}

const cursorError = (code: string, message: string) => invalidFields([{ field: ["cursor"], source: "query", code, message }]);

const isKey = (value: unknown): value is OrderKey =>
  Array.isArray(value) && value.length === 2 && isIsoMillisecondTimestamp(value[0]) && typeof value[1] === "number" && isSerialId(value[1]);

/**
 * Reads a cursor sent back by a client, for the list it asks for now. Every key it carries is
 * checked before any SQL sees it: anything this service did not write (an impossible date, an id
 * no order can have, a key too many) is a 400 `invalid-cursor`; a cursor of another filter is a
 * 400 `cursor-mismatch`.
 */
export function decodeOrderCursor(text: string, filter: OrderFilter): OrderCursor {
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: refused below like any other malformed cursor.
  }
  const wellFormed =
    json !== undefined &&
    Object.keys(json).every((key) => CURSOR_KEYS.has(key)) &&
    json.v === 1 &&
    typeof json.f === "string" &&
    (json.d === "n" || json.d === "p") &&
    (json.k === undefined || isKey(json.k));
  if (!wellFormed) throw cursorError("invalid-cursor", "is not a cursor from a next or previous link");
  if (json!.f !== filterSignature(filter)) {
    throw cursorError(
      "cursor-mismatch",
      "belongs to another filter: follow it with the user_id, status, created_after and created_before it was made for, or start again without it",
    );
  }
  return { filter, direction: json!.d === "n" ? "forward" : "backward", ...(json!.k ? { key: json!.k as OrderKey } : {}) };
}

/** The key of `order` in the back-office list. */
export const orderKeyOf = (order: { id: number; createdAt: Date }): OrderKey => [order.createdAt.toISOString(), order.id];
