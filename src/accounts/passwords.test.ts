import { describe, expect, it } from "vitest";
import { passwordRuleViolations } from "./passwords.js";

const codes = (password: string, name = "someone") => passwordRuleViolations(password, name).map((v) => v.code);

describe("password rules", () => {
  it("accept a long, uncommon password unlike the name", () => {
    expect(passwordRuleViolations("correct horse battery staple", "alice")).toEqual([]);
  });

  it("name every rule a password breaks, at the password field", () => {
    expect(passwordRuleViolations("1234567", "bob")).toEqual([
      { field: ["password"], code: "too-short", message: "must be at least 8 characters" },
      { field: ["password"], code: "entirely-numeric", message: "must not be entirely numeric" },
      { field: ["password"], code: "too-common", message: "is too common" },
    ]);
  });

  it("count code points, from 8 to 128 (openapi.yaml's Password)", () => {
    expect(codes("\u{1F600}".repeat(7))).toContain("too-short");
    expect(codes("\u{1F600}".repeat(8))).not.toContain("too-short");
    expect(codes(`${"ab".repeat(64)}c`)).toContain("too-long");
  });

  it("refuse a password too similar to the name, either way round", () => {
    expect(codes("margaret1", "margaret")).toContain("too-similar-to-name");
    expect(codes("alex", "alexander-the-great")).toContain("too-similar-to-name");
    expect(codes("zebra crossing light", "al")).not.toContain("too-similar-to-name");
  });

  it("refuse common passwords whatever their case", () => {
    expect(codes("PASSWORD1")).toContain("too-common");
  });
});
