// The order the integration files start in, on two workers: the files that need a fresh process
// first (the first two files each get a new worker), then the longest first, so that both workers
// finish together instead of one waiting out a long file that started last.
import { statSync } from "node:fs";
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import { OWN_PROCESS } from "./own-process.js";

// The folders whose files start processes of their own (servers, databases, proxies): the longest
// ones, so they start first on a fresh clone, before vitest has timed anything.
const PROCESS_FOLDERS = ["tests/resilience/", "tests/deployment/", "tests/database/"];

export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const path = (file: TestSpecification) => relative(root, file.moduleId).replaceAll("\\", "/");
    // vitest's own timing of the file (node_modules/.vite/vitest/) when it has one; else a guess:
    // the process-starting folders first, then the larger files.
    const weight = (file: TestSpecification) => {
      const timed = this.ctx.cache.getFileTestResults(`${file.project.name}:${path(file)}`);
      if (timed) return timed.duration / 1000;
      const spawns = PROCESS_FOLDERS.some((folder) => path(file).startsWith(folder)) ? 1_000 : 0;
      return spawns + statSync(file.moduleId).size / 1_000;
    };
    const ownProcess = (file: TestSpecification) => (OWN_PROCESS.includes(path(file)) ? 1 : 0);
    return [...files].sort((a, b) => ownProcess(b) - ownProcess(a) || weight(b) - weight(a));
  }
}
