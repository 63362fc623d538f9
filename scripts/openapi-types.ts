import { readFileSync } from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";

const HEADER = "// Generated from openapi.yaml by `npm run generate`. Do not edit.\n\n";

/** The TypeScript types of openapi.yaml, exactly as `npm run generate` writes them. */
export async function renderOpenApiTypes(specPath = "openapi.yaml"): Promise<string> {
  const ast = await openapiTS(readFileSync(specPath, "utf8"));
  return HEADER + astToString(ast);
}
