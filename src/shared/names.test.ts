import { describe, expect, it } from "vitest";
import { normalizeName, productNameViolations, userNameViolations } from "./names.js";
import { SPEC_LIMITS } from "../infra/spec-limits.js";

describe("names", () => {
  it("are stored in NFC, trimmed, with a lowercased key: one function for users and products", () => {
    const decomposed = "  Cafe\u0301 Noir ";
    expect(normalizeName(decomposed)).toEqual({ name: "Caf\u00e9 Noir", key: "caf\u00e9 noir" });
    expect(normalizeName("Caf\u00e9 Noir").key).toBe(normalizeName(decomposed).key);
  });

  it("name the field and the rule they break", () => {
    expect(userNameViolations("a\u0000b")).toEqual([{ field: ["name"], code: "invalid-character", message: expect.any(String) }]);
    expect(userNameViolations("\u200b\u200b")).toEqual([{ field: ["name"], code: "blank", message: expect.any(String) }]);
    expect(productNameViolations("Tea")).toEqual([]);
  });

  it("fit their columns also once lowercased, with the lengths of openapi.yaml", () => {
    expect(SPEC_LIMITS.userNameMaxLength).toBe(100);
    expect(SPEC_LIMITS.productNameMaxLength).toBe(200);
    expect(userNameViolations("x".repeat(100))).toEqual([]);
    expect(userNameViolations("x".repeat(101))[0]?.code).toBe("too-long");
    // "İ" lowercases to two code points.
    expect(userNameViolations("\u0130".repeat(51))[0]?.code).toBe("too-long");
    expect(productNameViolations("\u0130".repeat(100))).toEqual([]);
    expect(productNameViolations("\u0130".repeat(101))[0]).toMatchObject({ code: "too-long", message: "must be at most 200 characters, also once lowercased" });
  });
});
