import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The folder holding openapi.yaml and prisma/: found by walking up from this module, so the same
 * code works from src/ (tsx) and from dist/src/ (compiled).
 */
function findProjectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++) {
    if (existsSync(join(dir, "openapi.yaml"))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`openapi.yaml not found above ${fileURLToPath(import.meta.url)}`);
}

export const PROJECT_ROOT = findProjectRoot();
