import { describe, expect, it } from "vitest";
import { preparedRaw, preparedRawName } from "./prepared-raw.js";

describe("raw statements prepared by name", () => {
  it("names a registered text, and no other", () => {
    const text = "SELECT 1 AS prepared_raw_test";
    expect(preparedRaw("prepared_raw_test", text)).toBe(text);
    expect(preparedRawName({ sql: text })).toBe("prepared_raw_test");
    expect(preparedRawName({ sql: `${text} ` })).toBeUndefined();
  });

  it("refuses one name for two texts (pg would refuse the second on a connection that has the first)", () => {
    preparedRaw("prepared_raw_twice", "SELECT 2");
    expect(preparedRaw("prepared_raw_twice", "SELECT 2")).toBe("SELECT 2");
    expect(() => preparedRaw("prepared_raw_twice", "SELECT 3")).toThrow(/already given to another text/);
    expect(preparedRawName({ sql: "SELECT 3" })).toBeUndefined();
  });
});
