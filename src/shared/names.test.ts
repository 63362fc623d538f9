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

  it("refuse look-alikes (UTS #39): invisible and bidi characters, compatibility forms, mixed scripts", () => {
    for (const name of ["admin\u200b", "admin\u2060", "\uff41\uff44\uff4d\uff49\uff4e", "\u202eadmin", "admin\u00ad", "\u0430dmin"]) {
      expect(userNameViolations(name), JSON.stringify(name)).toEqual([{ field: ["name"], code: "confusable", message: expect.any(String) }]);
    }
    for (const name of ["Caf\u00e9 Noir\u2122 \u00bd", "\u041c\u043e\u0441\u043a\u0432\u0430", "\u6771\u4eac Tokyo", "\ud83d\udc69\u200d\ud83c\udf73 Chef"]) {
      expect(productNameViolations(name), name).toEqual([]);
    }
  });
});
