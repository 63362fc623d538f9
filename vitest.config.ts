import { defineConfig } from "vitest/config";

// Two tiers. `unit`: the pure modules (money, pagination, names, passwords, errors and their
// mapping), no database, no server: tests/unit/. `integration`: the service over HTTP on a real
// database (TEST_DB=pglite|postgres), every other file under tests/.
//
// *.postgres.test.ts need a real PostgreSQL server of their own (they stop and start it), so they
// belong to the PostgreSQL run (make test-postgres), which CI requires. *.pglite.test.ts test the
// embedded database itself, whatever the suite's database, so they run once, in the PGlite run.
const otherHalf = process.env.TEST_DB === "postgres" ? ["tests/**/*.pglite.test.ts"] : ["tests/**/*.postgres.test.ts"];

export default defineConfig({
  test: {
    // Two cores: two test files at a time, each with its own database.
    fileParallelism: true,
    maxWorkers: 2,
    minWorkers: 1,
    teardownTimeout: 30_000,
    projects: [
      {
        test: {
          name: "unit",
          include: ["tests/unit/**/*.test.ts"],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["tests/**/*.test.ts"],
          exclude: ["**/node_modules/**", "tests/unit/**", ...otherHalf],
          // PGlite (WebAssembly) and the schema engine are happiest in plain child processes.
          pool: "forks",
          // Prepares the migrated template database that each test file copies (TEST_DB=pglite|postgres).
          globalSetup: ["tests/global-setup.ts"],
          testTimeout: 20_000,
          // Copying a database takes ~0.5 s; a fresh PGlite (initdb) 2-4 s on a busy machine.
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
