// The build `make run` needs: every file tsconfig.build.json includes turned into JavaScript by
// Node's own TypeScript support (node:module's stripTypeScriptTypes), without type checking and
// without installing TypeScript. Checking is `make typecheck` (part of `make test`), whose
// tsconfig.json keeps the sources erasable (erasableSyntaxOnly, verbatimModuleSyntax): types are
// only removed, replaced by spaces, so every line and column of a built file is the one of its
// source and no source map is needed. The Dockerfile builds with tsc instead; both run the same.
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as nodeModule from "node:module";
import { dirname, join, relative, resolve } from "node:path";

/** Exit code when TypeScript is needed and not installed: the Makefile installs everything and builds again. */
const NEEDS_TYPESCRIPT = 3;
const strip =
  typeof nodeModule.stripTypeScriptTypes === "function" ? (source) => nodeModule.stripTypeScriptTypes(source, { mode: "strip" }) : await typeScriptTranspiler();

const root = resolve(import.meta.dirname, "..");
const config = JSON.parse(readFileSync(join(root, "tsconfig.build.json"), "utf8"));
// dist/, or the folder named as the argument (the tests build into one of their own).
const outDir = resolve(root, process.argv[2] ?? "dist");
const excluded = (config.exclude ?? []).map(globToRegExp);

const fileNames = config.include
  .flatMap((entry) => typeScriptFiles(join(root, entry)))
  .filter((file) => !excluded.some((glob) => glob.test(relative(root, file))));

rmSync(outDir, { recursive: true, force: true });
const problems = [];
for (const fileName of fileNames) {
  const out = join(outDir, relative(root, fileName)).replace(/\.(m|c)?ts$/, (_, kind = "") => `.${kind}js`);
  try {
    const javaScript = strip(readFileSync(fileName, "utf8"), fileName);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, javaScript);
  } catch (error) {
    problems.push(`${relative(root, fileName)}: ${error.message}`);
  }
}
if (problems.length > 0) {
  console.error(`Could not build (make typecheck names the cause):\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`Built ${fileNames.length} files into ${relative(root, outDir)}/ without type checking (make typecheck checks them)`);

/**
 * A Node older than 22.18 cannot strip types (Node 20 is past its end of life, and the service
 * supports 22.20 and later): TypeScript's transpileModule builds then, file by file as well.
 */
async function typeScriptTranspiler() {
  const ts = await import("typescript").then(
    (module) => module.default,
    () => undefined,
  );
  if (!ts) {
    console.error(
      `Node ${process.version} cannot strip TypeScript's types, and TypeScript is not installed (Node 22.20 or later needs none; Node 24 LTS is recommended)`,
    );
    process.exit(NEEDS_TYPESCRIPT);
  }
  console.log(
    `Node ${process.version} cannot strip TypeScript's types: building with TypeScript ${ts.version} instead (Node 22.20 or later needs no TypeScript)`,
  );
  const compilerOptions = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true };
  return (source, fileName) => ts.transpileModule(source, { fileName, compilerOptions }).outputText;
}

/** The TypeScript files at `path`: the file itself, or every one under the folder (declarations left out). */
function typeScriptFiles(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(m|c)?ts$/.test(entry.name) && !/\.d\.(m|c)?ts$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** tsconfig's exclude patterns (`**` any folders, `*` any name part) as a regular expression on a path from the root. */
function globToRegExp(glob) {
  const pattern = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*\*\//g, "\u0000")
    .replace(/\*/g, "[^/]*")
    .replaceAll("\u0000", "(?:.*/)?");
  return new RegExp(`^${pattern}$`);
}
