import { invalidFields } from "../errors/app-error.js";

/** A position in the event stream: after the event with this transaction id and id. */
export interface StreamPosition {
  xid: string;
  id: string;
}

const POSITION = /^(\d{1,20})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function encodePosition(position: StreamPosition): string {
  return Buffer.from(`${position.xid}.${position.id}`).toString("base64url");
}

/** Reads an `after` sent back by a client; anything this service did not write is a 400 problem naming it. */
export function decodePosition(text: string): StreamPosition {
  const match = POSITION.exec(Buffer.from(text, "base64url").toString("latin1"));
  if (!match || BigInt(match[1]!) > 9_223_372_036_854_775_807n) {
    throw invalidFields([{ field: ["after"], source: "query", code: "invalid-cursor", message: "is not a cursor from an event page" }]);
  }
  return { xid: match[1]!, id: match[2]! };
}
