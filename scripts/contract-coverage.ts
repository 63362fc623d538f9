// Which (operation, status) pairs of openapi.yaml did the test suite produce? Reads what
// tests/helpers/contract.ts recorded in CONTRACT_COVERAGE_DIR, prints the figure and fails while a
// documented pair is neither exercised nor listed in tests/contract-coverage-exceptions.yaml.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { createContractChecker, type OpenApiDocument } from "../support/contract-checker.js";
import { loadSpec } from "../src/infra/spec.js";

const dir = process.env.CONTRACT_COVERAGE_DIR ?? "artifacts/contract-coverage";
const exceptionsFile = "tests/contract-coverage-exceptions.yaml";

const key = (operationId: string, status: number | string) => `${operationId} ${status}`;
const documented = createContractChecker(loadSpec() as unknown as OpenApiDocument).documentedPairs();
const seen = new Set(
  readdirSync(dir)
    .filter((file) => file.endsWith(".jsonl"))
    .flatMap((file) => readFileSync(join(dir, file), "utf8").trim().split("\n").filter(Boolean))
    .map((line) => JSON.parse(line) as { operationId: string; status: number })
    .map((pair) => key(pair.operationId, pair.status)),
);
const exceptions = (parse(readFileSync(exceptionsFile, "utf8")) as { exceptions: { operation: string; status: number; reason: string }[] }).exceptions;
const excepted = new Set(exceptions.map((e) => key(e.operation, e.status)));

const covered = documented.filter((p) => seen.has(key(p.operationId, p.status)));
const missing = documented.filter((p) => !seen.has(key(p.operationId, p.status)) && !excepted.has(key(p.operationId, p.status)));
const staleExceptions = exceptions.filter(
  (e) => seen.has(key(e.operation, e.status)) || !documented.some((p) => key(p.operationId, p.status) === key(e.operation, e.status)),
);

const percent = ((covered.length / documented.length) * 100).toFixed(1);
const summary = `contract coverage: ${covered.length}/${documented.length} documented (operation, status) pairs exercised (${percent}%), ${excepted.size} reviewed exceptions`;
console.log(summary);
writeFileSync(join(dir, "summary.txt"), `${summary}\n`);
for (const pair of missing) console.log(`  never exercised: ${pair.operationId} ${pair.status}`);
for (const e of staleExceptions) console.log(`  exception no longer needed (exercised or not documented): ${e.operation} ${e.status}`);
process.exit(missing.length > 0 || staleExceptions.length > 0 ? 1 : 0);
