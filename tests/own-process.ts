// Test files that count this process's open sockets, servers and timers before and after: they
// must be the first file of their worker process (tests/sequencer.ts starts them first, and each
// checks testFilesRunInThisProcess()), so that nothing another file left behind can close during
// the test and hide a resource the app failed to release.
export const OWN_PROCESS = ["tests/resilience/app-close.pglite.test.ts", "tests/resilience/app-close.postgres.test.ts"];
