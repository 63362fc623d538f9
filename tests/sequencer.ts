// The order the integration files start in, on two workers: the files that need a fresh process
// first (the first two files each get a new worker), then the longest first, so that both workers
// finish together instead of one waiting out a long file that started last.
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";
import { OWN_PROCESS } from "./own-process.js";

// Seconds each file took in a run of each half on two busy cores. Only for a fresh clone: once
// vitest has timed a file (node_modules/.vite/vitest/), its own figure is used.
const EXPECTED_SECONDS: Record<string, number> = {
  "tests/startup.pglite.test.ts": 52,
  "tests/many-users.test.ts": 43,
  "tests/abuse.test.ts": 33,
  "tests/embedded-database.pglite.test.ts": 29,
  "tests/workers.test.ts": 22,
  "tests/stall.postgres.test.ts": 22,
  "tests/prometheus.postgres.test.ts": 22,
  "tests/hostile.test.ts": 19,
  "tests/app-close.pglite.test.ts": 18,
  "tests/lifecycle.test.ts": 17,
  "tests/rate-limit-store.postgres.test.ts": 16,
  "tests/coordination.postgres.test.ts": 15,
  "tests/products.test.ts": 12,
  "tests/observability.test.ts": 10,
  "tests/order-cancellation-concurrency.test.ts": 10,
  "tests/docs.browser.test.ts": 10,
  "tests/fuzz.test.ts": 9,
  "tests/operations.test.ts": 9,
  "tests/app-close.postgres.test.ts": 9,
  "tests/auth.test.ts": 8,
  "tests/third-party.test.ts": 8,
  "tests/failure-is-not-an-answer.test.ts": 7,
  "tests/spec-fidelity.test.ts": 6,
  "tests/product-conditional.test.ts": 6,
  "tests/replicas.postgres.test.ts": 5,
};

export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const path = (file: TestSpecification) => relative(root, file.moduleId).replaceAll("\\", "/");
    const seconds = (file: TestSpecification) => {
      const timed = this.ctx.cache.getFileTestResults(`${file.project.name}:${path(file)}`);
      return timed ? timed.duration / 1000 : (EXPECTED_SECONDS[path(file)] ?? 0);
    };
    const ownProcess = (file: TestSpecification) => (OWN_PROCESS.includes(path(file)) ? 1 : 0);
    return [...files].sort((a, b) => ownProcess(b) - ownProcess(a) || seconds(b) - seconds(a));
  }
}
