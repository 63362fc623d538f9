// The build `make run` needs: every file of tsconfig.build.json turned into JavaScript on its own
// (TypeScript's transpileModule, with the same compiler options and source maps), without type
// checking. Checking is `make typecheck` (part of `make test`): done here it took most of a first
// run's build, reading every type the dependencies declare. The sources are written for this
// (tsc's --isolatedModules finds nothing to refuse), so the output is what `tsc -p
// tsconfig.build.json` writes, file for file.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const root = resolve(import.meta.dirname, "..");
const configFile = join(root, "tsconfig.build.json");
const config = ts.getParsedCommandLineOfConfigFile(configFile, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail([d]) });
if (!config) process.exit(1);
if (config.errors.length > 0) fail(config.errors);
const { options, fileNames } = config;
const outDir = options.outDir ?? join(root, "dist");
const rootDir = options.rootDir ?? root;

rmSync(outDir, { recursive: true, force: true });
const problems = [];
for (const fileName of fileNames) {
  if (fileName.endsWith(".d.ts")) continue;
  const out = join(outDir, relative(rootDir, fileName)).replace(/\.(m|c)?ts$/, (_, kind = "") => `.${kind}js`);
  const {
    outputText,
    sourceMapText,
    diagnostics = [],
  } = ts.transpileModule(readFileSync(fileName, "utf8"), {
    // package.json's "type": "module" makes every file an ES module under NodeNext, which a file
    // transpiled alone cannot look up.
    compilerOptions: { ...options, isolatedModules: true, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler },
    fileName,
    reportDiagnostics: true,
  });
  problems.push(...diagnostics);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, outputText);
  if (sourceMapText) writeFileSync(`${out}.map`, sourceMapText);
}
if (problems.length > 0) fail(problems);
console.log(`Built ${fileNames.length} files into ${relative(root, outDir)}/ without type checking (make typecheck checks them)`);

function fail(diagnostics) {
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => "\n" };
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
}
