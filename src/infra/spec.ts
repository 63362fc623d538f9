import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PROJECT_ROOT } from "./project-root.js";

export const SPEC_PATH = join(PROJECT_ROOT, "openapi.yaml");
export const SPEC_TEXT = readFileSync(SPEC_PATH, "utf8");

/** A fresh copy of the parsed spec (fastify-openapi-glue may annotate what it is given). */
export function loadSpec(): Record<string, unknown> {
  return parse(SPEC_TEXT) as Record<string, unknown>;
}
