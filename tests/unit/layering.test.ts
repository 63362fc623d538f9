// The layering check of `make lint` (.dependency-cruiser.cjs, README "Layers") run, exactly as
// make runs it, on a small project made here: one that keeps every rule passes, and the same
// project with wrong imports added fails, naming each broken rule and the import that broke it.
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/project-root.js";

const run = promisify(execFile);
const DEPCRUISE = join(PROJECT_ROOT, "node_modules", ".bin", "depcruise");
const ARGS = ["src", "client", "bench", "scripts", "support", "tests", "--config", ".dependency-cruiser.cjs", "--output-type", "err"];

/** Every layer, importing only downward. */
const LAWFUL: Record<string, string> = {
  "src/server.ts": `import { buildApp } from "./app.js";\nexport const start = buildApp;`,
  "src/app.ts": `import { database } from "./plugins/database.js";\nimport { handlers } from "./handlers/orders.js";\nexport const buildApp = () => [database, handlers];`,
  "src/plugins/database.ts": `import { open } from "../db/client.js";\nexport const database = open;`,
  "src/handlers/orders.ts": `import { place } from "../domain/orders.js";\nimport { problem } from "../http/problem.js";\nexport const handlers = [place, problem];`,
  "src/http/problem.ts": `import { type Failure } from "../domain/errors.js";\nexport const problem = (f: Failure) => f;`,
  "src/domain/errors.ts": `export type Failure = { code: string };`,
  "src/domain/orders.ts": `import { open } from "../db/client.js";\nexport const place = open;`,
  "src/db/client.ts": `import { connect } from "runtime-lib";\nexport const open = connect;`,
  "package.json": JSON.stringify({ name: "fixture", type: "module", dependencies: { "runtime-lib": "1.0.0" }, devDependencies: { "dev-only": "1.0.0" } }),
  "node_modules/runtime-lib/package.json": JSON.stringify({ name: "runtime-lib", version: "1.0.0", main: "index.js" }),
  "node_modules/runtime-lib/index.js": "exports.connect = () => 1;",
  "node_modules/dev-only/package.json": JSON.stringify({ name: "dev-only", version: "1.0.0", main: "index.js" }),
  "node_modules/dev-only/index.js": "exports.fetcher = () => 1;",
  "support/cluster.ts": `export const cluster = 1;`,
  "client/index.ts": `export const c = 1;`,
  "bench/orders.ts": `import { cluster } from "../support/cluster.js";\nexport const bench = cluster;`,
  "scripts/coverage.ts": `import { cluster } from "../support/cluster.js";\nexport const coverage = cluster;`,
  "tests/helpers/app.ts": `import { buildApp } from "../../src/app.js";\nimport { cluster } from "../../support/cluster.js";\nexport const app = [buildApp, cluster];`,
};

/** Each wrong import, and the rule that must name it. */
const WRONG: { file: string; source: string; rule: string; from: string; to: string }[] = [
  {
    file: "src/domain/stock.ts",
    source: `import { problem } from "../http/problem.js";\nexport const s = problem;`,
    rule: "domain-is-transport-free",
    from: "src/domain/stock.ts",
    to: "src/http/problem.ts",
  },
  {
    file: "src/domain/pricing.ts",
    source: `import { database } from "../plugins/database.js";\nexport const p = database;`,
    rule: "domain-is-transport-free",
    from: "src/domain/pricing.ts",
    to: "src/plugins/database.ts",
  },
  {
    file: "src/domain/a.ts",
    source: `import { b } from "./b.js";\nexport const a = () => b;`,
    rule: "no-circular",
    from: "src/domain/a.ts",
    to: "src/domain/b.ts",
  },
  {
    file: "src/domain/b.ts",
    source: `import { a } from "./a.js";\nexport const b = () => a;`,
    rule: "no-circular",
    from: "src/domain/b.ts",
    to: "src/domain/a.ts",
  },
  {
    file: "src/handlers/users.ts",
    source: `import { database } from "../plugins/database.js";\nexport const u = database;`,
    rule: "handlers-below-plugins",
    from: "src/handlers/users.ts",
    to: "src/plugins/database.ts",
  },
  {
    file: "src/db/rows.ts",
    source: `import { place } from "../domain/orders.js";\nexport const r = place;`,
    rule: "db-is-the-bottom",
    from: "src/db/rows.ts",
    to: "src/domain/orders.ts",
  },
  {
    file: "src/http/auth.ts",
    source: `import { handlers } from "../handlers/orders.js";\nexport const h = handlers;`,
    rule: "http-below-app",
    from: "src/http/auth.ts",
    to: "src/handlers/orders.ts",
  },
  {
    file: "src/http/client.ts",
    source: `import { fetcher } from "dev-only";\nexport const f = fetcher;`,
    rule: "src-needs-no-dev-dependency",
    from: "src/http/client.ts",
    to: "node_modules/dev-only/index.js",
  },
  {
    file: "src/config.ts",
    source: `import { app } from "../tests/helpers/app.js";\nexport const c = app;`,
    rule: "src-is-shipped-alone",
    from: "src/config.ts",
    to: "tests/helpers/app.ts",
  },
  {
    file: "src/handlers/docs.ts",
    source: `import { c } from "../../client/index.js";\nexport const d = c;`,
    rule: "src-is-shipped-alone",
    from: "src/handlers/docs.ts",
    to: "client/index.ts",
  },
  {
    file: "bench/login.ts",
    source: `import { app } from "../tests/helpers/app.js";\nexport const l = app;`,
    rule: "tools-do-not-import-tests",
    from: "bench/login.ts",
    to: "tests/helpers/app.ts",
  },
  {
    file: "scripts/summary.ts",
    source: `import { app } from "../tests/helpers/app.js";\nexport const s = app;`,
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
      if (wrong.rule === "no-circular") expect(output).toMatch(/error no-circular: src\/domain\/[ab]\.ts → \n\s+src\/domain\/[ab]\.ts →/);
      else expect(output).toContain(`error ${wrong.rule}: ${wrong.from} → ${wrong.to}`);
    }
    // Nothing lawful is reported: only the wrong imports.
    const reported = output.split("\n").filter((line) => line.trim().startsWith("error"));
    expect(reported).toHaveLength(WRONG.length - 1); // the two halves of the cycle are one violation
  }, 30_000);
});
