import { writeFileSync } from "node:fs";
import { renderOpenApiTypes } from "./openapi-types.js";

// generated/openapi.ts is committed, so contract changes show in review; a test fails when stale.
writeFileSync("generated/openapi.ts", await renderOpenApiTypes());
console.log("generated/openapi.ts written from openapi.yaml");
