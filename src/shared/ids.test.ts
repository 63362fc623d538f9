import { describe, expect, it } from "vitest";
import { SPEC_LIMITS } from "../infra/spec-limits.js";
import { INT4_MAX } from "./ids.js";

describe("INT4_MAX", () => {
  it("is PostgreSQL's integer maximum, 2^31 - 1", () => expect(INT4_MAX).toBe(2 ** 31 - 1));
  it("is the stock maximum openapi.yaml states", () => expect(SPEC_LIMITS.maxStock).toBe(INT4_MAX));
});
