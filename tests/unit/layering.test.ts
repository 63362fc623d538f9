// The layering check of `make lint` (.dependency-cruiser.cjs; docs/reference/architecture.md) run, exactly as
// make runs it, on a small project made here: one that keeps every rule passes, and the same
// project with wrong imports added fails, naming each broken rule and the import that broke it.
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/infra/project-root.js";

const run = promisify(execFile);
const DEPCRUISE = join(PROJECT_ROOT, "node_modules", ".bin", "depcruise");
const ARGS = ["src", "client", "bench", "scripts", "support", "tests", "--config", ".dependency-cruiser.cjs", "--output-type", "err"];

/** Every layer, importing only downward; one feature using another through its index.ts. */
const LAWFUL: Record<string, string> = {
  "src/server.ts": `import { app } from "./app.js";\nexport const start = app;`,
  "src/app.ts": `import { database } from "./infra/db/plugin.js";\nimport { orders } from "./orders/index.js";\nimport { cors } from "./platform/cors.js";\nexport const app = [database, orders, cors];`,
  "src/infra/db/plugin.ts": `import { open } from "./client.js";\nexport const database = open;`,
  "src/infra/db/client.ts": `import { connect } from "runtime-lib";\nimport { failure } from "../../errors/app-error.js";\nexport const open = [connect, failure];`,
  "src/infra/http/problem.ts": `import { failure } from "../../errors/app-error.js";\nexport const problem = failure;`,
  "src/errors/app-error.ts": `export const failure = { code: "x" };`,
  "src/platform/cors.ts": `import { problem } from "../infra/http/problem.js";\nexport const cors = problem;`,
  "src/shared/money.ts": `import { failure } from "../errors/app-error.js";\nexport const money = failure;`,
  "src/accounts/index.ts": `import { owner } from "./authentication.js";\nexport { owner };`,
  "src/accounts/authentication.ts": `export const owner = () => true;`,
  "src/orders/index.ts": `import { handlers } from "./handlers.js";\nexport const orders = handlers;`,
  "src/orders/handlers.ts": `import { owner } from "../accounts/index.js";\nimport { place } from "./repository.js";\nimport { problem } from "../infra/http/problem.js";\nimport { money } from "../shared/money.js";\nexport const handlers = [owner, place, problem, money];`,
  "src/orders/repository.ts": `import { open } from "../infra/db/client.js";\nexport const place = open;`,
  "package.json": JSON.stringify({ name: "fixture", type: "module", dependencies: { "runtime-lib": "1.0.0" }, devDependencies: { "dev-only": "1.0.0" } }),
  "node_modules/runtime-lib/package.json": JSON.stringify({ name: "runtime-lib", version: "1.0.0", main: "index.js" }),
  "node_modules/runtime-lib/index.js": "exports.connect = () => 1;",
  "node_modules/dev-only/package.json": JSON.stringify({ name: "dev-only", version: "1.0.0", main: "index.js" }),
  "node_modules/dev-only/index.js": "exports.fetcher = () => 1;",
  "support/cluster.ts": `export const cluster = 1;`,
  "client/index.ts": `export const c = 1;`,
  "bench/orders.ts": `import { cluster } from "../support/cluster.js";\nexport const bench = cluster;`,
  "scripts/coverage.ts": `import { cluster } from "../support/cluster.js";\nexport const coverage = cluster;`,
  "tests/helpers/app.ts": `import { app } from "../../src/app.js";\nimport { cluster } from "../../support/cluster.js";\nexport const t = [app, cluster];`,
};

/** Each wrong import, and the rule that must name it. */
const WRONG: { file: string; source: string; rule: string; from: string; to: string }[] = [
  {
    file: "src/catalogue/handlers.ts",
    source: `import { owner } from "../accounts/authentication.js";\nexport const h = owner;`,
    rule: "features-meet-through-index",
    from: "src/catalogue/handlers.ts",
    to: "src/accounts/authentication.ts",
  },
  {
    file: "src/catalogue/repository.ts",
    source: `import { app } from "../app.js";\nexport const r = app;`,
    rule: "features-below-app",
    from: "src/catalogue/repository.ts",
    to: "src/app.ts",
  },
  {
    file: "src/infra/db/rows.ts",
    source: `import { place } from "../../orders/repository.js";\nexport const r = place;`,
    rule: "infra-knows-no-feature",
    from: "src/infra/db/rows.ts",
    to: "src/orders/repository.ts",
  },
  {
    file: "src/infra/http/links.ts",
    source: `import { cors } from "../../platform/cors.js";\nexport const l = cors;`,
    rule: "infra-knows-no-feature",
    from: "src/infra/http/links.ts",
    to: "src/platform/cors.ts",
  },
  {
    file: "src/platform/docs.ts",
    source: `import { orders } from "../orders/index.js";\nexport const d = orders;`,
    rule: "platform-knows-no-feature",
    from: "src/platform/docs.ts",
    to: "src/orders/index.ts",
  },
  {
    file: "src/shared/names.ts",
    source: `import { open } from "../infra/db/client.js";\nexport const n = open;`,
    rule: "shared-is-pure",
    from: "src/shared/names.ts",
    to: "src/infra/db/client.ts",
  },
  {
    file: "src/errors/codes.ts",
    source: `import { problem } from "../infra/http/problem.js";\nexport const c = problem;`,
    rule: "errors-are-a-leaf",
    from: "src/errors/codes.ts",
    to: "src/infra/http/problem.ts",
  },
  {
    file: "src/orders/a.ts",
    source: `import { b } from "./b.js";\nexport const a = () => b;`,
    rule: "no-circular",
    from: "src/orders/a.ts",
    to: "src/orders/b.ts",
  },
  {
    file: "src/orders/b.ts",
    source: `import { a } from "./a.js";\nexport const b = () => a;`,
    rule: "no-circular",
    from: "src/orders/b.ts",
    to: "src/orders/a.ts",
  },
  {
    file: "src/infra/http/client.ts",
    source: `import { fetcher } from "dev-only";\nexport const f = fetcher;`,
    rule: "src-needs-no-dev-dependency",
    from: "src/infra/http/client.ts",
    to: "node_modules/dev-only/index.js",
  },
  {
    file: "src/infra/config.ts",
    source: `import { t } from "../../tests/helpers/app.js";\nexport const c = t;`,
    rule: "src-is-shipped-alone",
    from: "src/infra/config.ts",
    to: "tests/helpers/app.ts",
  },
  {
    file: "src/operations/docs.ts",
    source: `import { c } from "../../client/index.js";\nexport const d = c;`,
    rule: "src-is-shipped-alone",
    from: "src/operations/docs.ts",
    to: "client/index.ts",
  },
  {
    file: "bench/login.ts",
    source: `import { t } from "../tests/helpers/app.js";\nexport const l = t;`,
    rule: "tools-do-not-import-tests",
    from: "bench/login.ts",
    to: "tests/helpers/app.ts",
  },
  {
    file: "scripts/summary.ts",
    source: `import { t } from "../tests/helpers/app.js";\nexport const s = t;`,
    rule: "tools-do-not-import-tests",
    from: "scripts/summary.ts",
    to: "tests/helpers/app.ts",
  },
];

const made: string[] = [];
afterAll(() => Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true }))));

async function project(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "layering-"));
  made.push(root);
  await copyFile(join(PROJECT_ROOT, ".dependency-cruiser.cjs"), join(root, ".dependency-cruiser.cjs"));
  const tsconfig = {
    compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true },
    include: ["src", "client", "bench", "scripts", "support", "tests"],
  };
  await writeFile(join(root, "tsconfig.json"), JSON.stringify(tsconfig));
  for (const [file, source] of Object.entries(files)) {
    await mkdir(dirname(join(root, file)), { recursive: true });
    await writeFile(join(root, file), `${source}\n`);
  }
  return root;
}

/** `make lint`'s dependency-cruiser command: its exit code and what it printed. */
async function check(root: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(DEPCRUISE, ARGS, { cwd: root });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

describe("the layering check", () => {
  it("passes a project whose imports all point downward", async () => {
    const { code, output } = await check(await project(LAWFUL));
    expect(output).not.toMatch(/error/);
    expect(code).toBe(0);
  }, 30_000);

  it("fails on each wrong import, naming the rule and the import", async () => {
    const { code, output } = await check(await project({ ...LAWFUL, ...Object.fromEntries(WRONG.map((w) => [w.file, w.source])) }));
    expect(code).not.toBe(0);
    for (const wrong of WRONG) {
      // A cycle is reported once, from whichever of its modules is met first.
      if (wrong.rule === "no-circular") expect(output).toMatch(/error no-circular: src\/orders\/[ab]\.ts → \n\s+src\/orders\/[ab]\.ts →/);
      else expect(output).toContain(`error ${wrong.rule}: ${wrong.from} → ${wrong.to}`);
    }
    // Nothing lawful is reported: only the wrong imports.
    const reported = output.split("\n").filter((line) => line.trim().startsWith("error"));
    expect(reported).toHaveLength(WRONG.length - 1); // the two halves of the cycle are one violation
  }, 30_000);
});
