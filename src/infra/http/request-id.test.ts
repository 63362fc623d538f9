import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { requestId } from "./request-id.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const asked = (headers: Record<string, string> = {}) => requestId({ headers } as unknown as IncomingMessage);

describe("request ids", () => {
  it("are UUIDv7s, all different and in the order they were made (more than one random pool's worth)", () => {
    const ids = Array.from({ length: 5_000 }, () => asked());
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it("carry the time they were made in their first 48 bits", () => {
    const before = Date.now();
    const id = asked();
    const millis = Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16);
    expect(millis).toBeGreaterThanOrEqual(before);
    expect(millis).toBeLessThanOrEqual(Date.now() + 1);
  });

  it("keep a client's well-formed id and replace a malformed one", () => {
    expect(asked({ "x-request-id": "client-123" })).toBe("client-123");
    expect(asked({ "x-request-id": "has space" })).toMatch(UUID_V7);
  });
});
