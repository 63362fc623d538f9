// Notes the file this worker runs, for tests/worker-exits.ts to name if the worker dies in it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, expect, inject } from "vitest";
import type {} from "../worker-exits.js";

beforeAll(() => writeFileSync(join(inject("runningFiles"), String(process.pid)), expect.getState().testPath ?? ""));
