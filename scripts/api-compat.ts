// The breaking-change gate (`make api-compat`, part of `make test`): openapi.yaml against the last
// released contract, openapi.released.yaml. Optic's checks run first; then support/api-compat.ts
// looks for what Optic lets through (narrowed inputs, enum growth in answers, link formats).
// A breaking change passes only with info.version's major bumped; CHANGELOG.md must have an
// entry for info.version. On release, copy openapi.yaml to openapi.released.yaml.
//   npx tsx scripts/api-compat.ts [released.yaml] [current.yaml]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { breakingChanges, majorVersion } from "../support/api-compat.js";

const [releasedFile = "openapi.released.yaml", currentFile = "openapi.yaml"] = process.argv.slice(2);
const released = parse(readFileSync(releasedFile, "utf8"));
const current = parse(readFileSync(currentFile, "utf8"));
const problems: string[] = [];

// Under CI=true Optic writes ci-run-details.json into its working directory: a scratch one here.
const optic = spawnSync(join(process.cwd(), "node_modules/.bin/optic"), ["diff", resolve(releasedFile), resolve(currentFile), "--check"], {
  encoding: "utf8",
  cwd: mkdtempSync(join(tmpdir(), "optic-")),
  env: { ...process.env, OPTIC_TELEMETRY_LEVEL: "off" },
});
const opticSummary = `${optic.stdout}${optic.stderr}`.split("\n").filter((line) => /Checks:|✖|breaking|error/i.test(line));
console.log(`Optic (${releasedFile} → ${currentFile}):\n${opticSummary.map((line) => `  ${line.trim()}`).join("\n") || "  (no changes)"}`);
const opticBreaks = optic.status !== 0;

const findings = breakingChanges(released, current);
console.log(`Own checks: ${findings.length} breaking change(s)`);
for (const finding of findings) console.log(`  ${finding.where}: ${finding.change}`);

const [was, is] = [released.info.version, current.info.version];
if ((opticBreaks || findings.length > 0) && majorVersion(current) <= majorVersion(released)) {
  problems.push(`breaking changes need a new major version: info.version is ${is}, the released contract ${was}`);
}
const changelog = readFileSync("CHANGELOG.md", "utf8");
if (!new RegExp(`^## ${is.replace(/\./g, "\\.")}\\b`, "m").test(changelog)) problems.push(`CHANGELOG.md has no "## ${is}" entry`);

for (const problem of problems) console.log(`FAIL: ${problem}`);
if (problems.length === 0) console.log(`api-compat: ${currentFile} (${is}) is compatible with the released ${was}, or its major version says it is not`);
process.exit(problems.length > 0 ? 1 : 0);
