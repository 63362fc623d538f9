import { defineConfig } from "vitest/config";
import LongestFirstSequencer from "./tests/sequencer.js";

// Two tiers. `unit`: the pure modules (money, pagination, names, passwords, errors and their
// mapping, configuration), tested beside them in src/, and the project's own checks (generated
// code, layering) in tests/unit/: no database, no server. `integration`: the
// service over HTTP on a real database (TEST_DB=pglite|postgres), every other file under tests/.
//
// *.postgres.test.ts need a real PostgreSQL server of their own (they stop and start it), so they
// belong to the PostgreSQL run (make test-postgres), which CI requires. *.pglite.test.ts test the
// embedded database itself, whatever the suite's database, so they run once, in the PGlite run.
// So do the files below: what they test is the HTTP layer, the spec or the docs pages, and the
// database only stands behind the app they start (no query of theirs depends on which one it is).
const DATABASE_INCIDENTAL = [
  "tests/contract/routes.test.ts", // the route table against the spec's operations
  "tests/contract/contract-guard.test.ts", // the contract checker fails a drifted spec
  "tests/contract/spec-fidelity.test.ts", // malformed HTTP, wrong methods, link building, servers, Redoc
  "tests/contract/docs.browser.test.ts", // the docs pages in Chromium (Try it out calls /healthz)
];
const otherHalf = process.env.TEST_DB === "postgres" ? ["tests/**/*.pglite.test.ts", ...DATABASE_INCIDENTAL] : ["tests/**/*.postgres.test.ts"];
// Through PgBouncer (TEST_POOLER=pgbouncer, `make test-pooler`) named statements are off: the
// files that check them have nothing to check there.
const notThroughPooler = process.env.TEST_POOLER ? ["tests/catalogue/prepared-statements.test.ts", "tests/orders/prepared-statements.test.ts"] : [];

export default defineConfig({
  test: {
    // Two cores: two test files at a time, each with its own database.
    fileParallelism: true,
    maxWorkers: 2,
    // With isolation off (the PostgreSQL half), both workers live for the whole run: the pool never
    // stops an idle one mid-run (that crashed a trial run with three workers and one to start with).
    minWorkers: 2,
    // On PostgreSQL each worker process runs its files one after another and loads the app's
    // modules once, not once per file (that took about 2.5 s of CPU per file). Every file still
    // builds its own apps and databases; the few that count the process's own resources run first
    // in a fresh worker (tests/own-process.ts, tests/sequencer.ts).
    // The PGlite half (TEST_DB=pglite) runs each file in a process of its own: there the worker
    // also hosts every test database (PGlite, a WebAssembly PostgreSQL in a thread of its own), and
    // long-lived workers died silently, late in three CI runs, with nothing of theirs logged
    // (tests/worker-exits.ts now names how). That costs the half about 150 s on two cores.
    // (vitest 3 reads poolOptions only here, not per project.)
    poolOptions: { forks: { isolate: process.env.TEST_DB === "pglite" } },
    sequence: { sequencer: LongestFirstSequencer },
    teardownTimeout: 30_000,
    projects: [
      {
        test: {
          name: "unit",
          include: ["src/**/*.test.ts", "tests/unit/**/*.test.ts"],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["tests/**/*.test.ts"],
          exclude: ["**/node_modules/**", "tests/unit/**", ...otherHalf, ...notThroughPooler],
          // PGlite (WebAssembly) and the schema engine are happiest in plain child processes.
          pool: "forks",
          // Prepares the migrated template database that each test file copies (TEST_DB=pglite|postgres),
          // and names how a worker ended and the file it ran if it dies mid-run (tests/worker-exits.ts).
          globalSetup: ["tests/global-setup.ts"],
          setupFiles: ["tests/setup/count-test-files.ts", "tests/setup/note-running-file.ts"],
          testTimeout: 20_000,
          // Copying a database takes ~0.5 s; a fresh PGlite (initdb) 2-4 s on a busy machine.
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
