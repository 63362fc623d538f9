// Prints one closing line for the whole suite, the unit tier and both databases together: "N passed, N failed".
import { existsSync, readFileSync } from "node:fs";

const reports = ["artifacts/vitest-unit.json", "artifacts/vitest-pglite.json", "artifacts/vitest-postgres.json", "artifacts/vitest-pooler.json"].filter(
  (file) => existsSync(file),
);
let passed = 0;
let failed = 0;
for (const file of reports) {
  const report = JSON.parse(readFileSync(file, "utf8")) as { numPassedTests: number; numFailedTests: number };
  passed += report.numPassedTests;
  failed += report.numFailedTests;
}
console.log(`test runs: ${reports.map((file) => file.replace(/^artifacts\/vitest-|\.json$/g, "")).join(" + ")}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
