import { describe, expect, it } from "vitest";
import { isIsoMillisecondTimestamp, parseDateTime } from "./timestamps.js";

describe("parseDateTime", () => {
  it("reads RFC 3339 date-times with their offset, to the millisecond", () => {
    expect(parseDateTime("2026-01-01T12:00:00Z")).toEqual({ ms: Date.UTC(2026, 0, 1, 12), subMillisecond: false });
    expect(parseDateTime("2026-01-01t12:00:00.5z")).toEqual({ ms: Date.UTC(2026, 0, 1, 12, 0, 0, 500), subMillisecond: false });
    expect(parseDateTime("2026-01-01T12:00:00.123456+02:00")).toEqual({ ms: Date.UTC(2026, 0, 1, 10, 0, 0, 123), subMillisecond: true });
    expect(parseDateTime("2026-01-01T12:00:00.123000-01:30")).toEqual({ ms: Date.UTC(2026, 0, 1, 13, 30, 0, 123), subMillisecond: false });
    expect(parseDateTime("2024-02-29T00:00:00Z")?.ms).toBe(Date.UTC(2024, 1, 29));
    expect(parseDateTime("0001-01-01T00:00:00Z")?.ms).toBe(new Date("0001-01-01T00:00:00Z").getTime());
    expect(parseDateTime("9999-12-31T23:59:59.999Z")?.ms).toBe(Date.UTC(9999, 11, 31, 23, 59, 59, 999));
  });

  it("refuses what does not exist, leap seconds, years outside 1 to 9999 and other forms", () => {
    for (const text of [
      "2024-02-30T00:00:00Z",
      "2023-02-29T00:00:00Z",
      "2026-04-31T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-00-10T00:00:00Z",
      "2026-01-01T24:00:00Z",
      "2026-01-01T12:60:00Z",
      "2016-12-31T23:59:60Z",
      "2026-01-01T12:00:00+24:00",
      "2026-01-01T12:00:00",
      "2026-01-01",
      "0000-06-01T00:00:00Z",
      "0001-01-01T00:30:00+01:00",
      "9999-12-31T23:30:00-01:00",
      "+02026-01-01T00:00:00Z",
      " 2026-01-01T00:00:00Z",
    ]) {
      expect(parseDateTime(text), text).toBeUndefined();
    }
  });
});

describe("isIsoMillisecondTimestamp", () => {
  it("accepts exactly what toISOString writes", () => {
    expect(isIsoMillisecondTimestamp("2026-01-01T12:00:00.000Z")).toBe(true);
    expect(isIsoMillisecondTimestamp(new Date().toISOString())).toBe(true);
    for (const value of ["2024-02-30T00:00:00.000Z", "2026-01-01T12:00:00Z", "2026-01-01T12:00:00.000+00:00", "0000-01-01T00:00:00.000Z", 5, null]) {
      expect(isIsoMillisecondTimestamp(value), String(value)).toBe(false);
    }
  });
});
