import { describe, expect, it } from "vitest";
import { parseRetryAfter } from "./webhook-sender.js";
import { nextDelayMs, parseSchedule } from "./webhook-schedule.js";

describe("the retry schedule", () => {
  const schedule = parseSchedule("5000,300000,1800000");

  it("waits each step's delay, jittered by at most 20 %, then gives up", () => {
    expect(nextDelayMs(schedule, 1, undefined, () => 0)).toBe(4000);
    expect(nextDelayMs(schedule, 1, undefined, () => 1)).toBe(6000);
    expect(nextDelayMs(schedule, 2, undefined, () => 0.5)).toBe(300000);
    expect(nextDelayMs(schedule, 3, undefined, () => 0.5)).toBe(1800000);
    expect(nextDelayMs(schedule, 4)).toBeNull();
  });

  it("honours Retry-After instead, but not past the last attempt", () => {
    expect(nextDelayMs(schedule, 1, 120_000)).toBe(120_000);
    expect(nextDelayMs(schedule, 4, 1_000)).toBeNull();
  });

  it("reads Retry-After as seconds or an HTTP date, at most a day", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter("999999999")).toBe(24 * 3600 * 1000);
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    expect(parseRetryAfter(inTenSeconds)).toBeGreaterThan(8_000);
  });
});
