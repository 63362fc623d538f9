// On PostgreSQL the integration tier runs its test files one after another in two long-lived
// worker processes (vitest.config.ts: isolation off, so the app's modules load once per process,
// not once per file; the PGlite half gives each file a process of its own).
// tests/setup/count-test-files.ts counts them, for the files that need a process of their own.
const FILES_RUN = Symbol.for("order-service:test-files-run-in-this-process");
type Counted = { [FILES_RUN]?: number };

/** Called before each test file (vitest setupFiles). */
export function countTestFile(): void {
  (globalThis as Counted)[FILES_RUN] = testFilesRunInThisProcess() + 1;
}

/** How many test files this process has run, the current one included. */
export function testFilesRunInThisProcess(): number {
  return (globalThis as Counted)[FILES_RUN] ?? 0;
}
