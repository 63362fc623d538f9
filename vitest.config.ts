import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // PGlite (WebAssembly) and the schema engine are happiest in plain child processes.
    pool: "forks",
    // Prepares the migrated template database that each test file copies (TEST_DB=pglite|postgres).
    globalSetup: ["tests/global-setup.ts"],
    // Two cores: two test files at a time, each with its own database.
    fileParallelism: true,
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 20_000,
    // Copying a database takes ~0.5 s; a fresh PGlite (initdb) 2-4 s on a busy machine.
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
