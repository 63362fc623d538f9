import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

/** openapi.yaml at the project root, found from src/ (tsx) and from dist/src/ (compiled). */
function findSpecPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, "openapi.yaml");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error("openapi.yaml not found above " + fileURLToPath(import.meta.url));
}

export const SPEC_PATH = findSpecPath();
export const SPEC_TEXT = readFileSync(SPEC_PATH, "utf8");

/** A fresh copy of the parsed spec (fastify-openapi-glue may annotate what it is given). */
export function loadSpec(): Record<string, unknown> {
  return parse(SPEC_TEXT) as Record<string, unknown>;
}
