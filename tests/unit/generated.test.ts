import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderOpenApiTypes } from "../../scripts/openapi-types.js";

describe("generated code", () => {
  it("generated/openapi.ts is what openapi.yaml generates (run `npm run generate`)", async () => {
    expect(readFileSync("generated/openapi.ts", "utf8")).toBe(await renderOpenApiTypes());
  });
});
