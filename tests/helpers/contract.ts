import { appendFileSync, mkdirSync } from "node:fs";
import { loadSpec } from "../../src/infra/spec.js";
import { type Answer, createContractChecker, type OpenApiDocument } from "../../support/contract-checker.js";

export * from "../../support/contract-checker.js";

const checker = createContractChecker(loadSpec() as unknown as OpenApiDocument);

/** Where each test process appends the (operation, status) pairs it saw; see scripts/contract-coverage.ts. */
const COVERAGE_DIR = process.env.CONTRACT_COVERAGE_DIR;

/** Checks an answer against openapi.yaml and records the pair for contract coverage. */
export function assertMatchesSpec(method: string, url: string, answer: Answer): void {
  const operation = checker.check(method, url, answer);
  if (operation && COVERAGE_DIR) {
    mkdirSync(COVERAGE_DIR, { recursive: true });
    appendFileSync(`${COVERAGE_DIR}/${process.pid}.jsonl`, `${JSON.stringify({ operationId: operation.operationId, status: answer.statusCode })}\n`);
  }
}
