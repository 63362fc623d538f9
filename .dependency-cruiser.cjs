// The allowed import directions (docs/reference/architecture.md), checked by `make lint`:
//   server.ts / cluster.ts -> app.ts -> features -> shared/, platform/, infra/, errors/
//   A feature is any other folder of src/ (accounts/, catalogue/, orders/, operations/, ...): its
//   handlers, repository, statements and wire mapping. Features meet only through each other's
//   index.ts. platform/ wraps ecosystem plugins; infra/ is what the service runs on (database,
//   coordination, jobs, the HTTP error funnel, configuration). Neither knows any feature.
//   shared/ holds the pure values several features use (names, money).
//   src/ imports nothing from tests/, bench/, scripts/, support/ or client/ (the callers' typed
//   client), nor a devDependency; bench/ and scripts/ take their shared helpers from support/,
//   never from tests/.
// tests/unit/layering.test.ts proves that a wrong import fails this check.
const BASE = "infra|platform|shared|errors|types";
const ENTRY = "^src/(app|server|cluster)\\.ts$";
const UNIT_TEST = "\\.test\\.ts$";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A cycle makes two modules one: neither can be read, tested or moved alone.",
      from: {},
      to: { circular: true },
    },
    {
      name: "features-meet-through-index",
      severity: "error",
      comment: "A feature uses another only through what that feature's index.ts exports (or not at all).",
      from: { path: "^src/([^/]+)/", pathNot: `^src/(${BASE})/` },
      to: { path: "^src/[^/]+/", pathNot: ["^src/$1/", `^src/(${BASE})/`, "^src/[^/]+/index\\.ts$"] },
    },
    {
      name: "features-below-app",
      severity: "error",
      comment: "Features get what they need from the app's plugins; they never import the app or the server.",
      from: { path: "^src/[^/]+/" },
      to: { path: ENTRY },
    },
    {
      name: "infra-knows-no-feature",
      severity: "error",
      comment: "infra/ is what every feature runs on: it imports no feature, no platform plugin, nothing of shared/.",
      from: { path: "^src/infra/", pathNot: UNIT_TEST },
      to: { path: "^src/", pathNot: ["^src/(infra|errors|types)/"] },
    },
    {
      name: "platform-knows-no-feature",
      severity: "error",
      comment: "platform/ wraps ecosystem plugins for every feature: it imports only infra/ and errors/.",
      from: { path: "^src/platform/" },
      to: { path: "^src/", pathNot: ["^src/(platform|infra|errors|types)/"] },
    },
    {
      name: "shared-is-pure",
      severity: "error",
      comment: "shared/ holds values several features use: no feature, no plugin, no database.",
      from: { path: "^src/shared/" },
      to: { path: "^src/", pathNot: ["^src/(shared|errors)/", "^src/infra/spec-limits\\.ts$", "^src/infra/spec\\.ts$", "^src/infra/project-root\\.ts$"] },
    },
    {
      name: "errors-are-a-leaf",
      severity: "error",
      comment: "Every layer throws the error module's errors, so it imports nothing of src/ (its unit test may).",
      from: { path: "^src/errors/", pathNot: UNIT_TEST },
      to: { path: "^src/", pathNot: "^src/errors/" },
    },
    {
      name: "app-below-server",
      severity: "error",
      from: { path: "^src/(?!server\\.ts$)" },
      to: { path: "^src/(server|cluster)\\.ts$" },
    },
    {
      name: "src-is-shipped-alone",
      severity: "error",
      comment: "The build ships src/: it must not need test, benchmark or script code.",
      from: { path: "^src/", pathNot: UNIT_TEST },
      to: { path: "^(tests|bench|scripts|support|client)/" },
    },
    {
      name: "src-needs-no-dev-dependency",
      severity: "error",
      comment: "The production image installs dependencies only: what src/ runs must be one (type-only imports are erased).",
      from: { path: "^src/", pathNot: UNIT_TEST },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
    {
      name: "tools-do-not-import-tests",
      severity: "error",
      comment: "bench/, scripts/ and support/ take shared helpers from support/, not from tests/.",
      from: { path: "^(bench|scripts|support)/" },
      to: { path: "^tests/" },
    },
    {
      name: "support-is-shared",
      severity: "error",
      comment: "support/ is used by tests, bench and scripts, so it imports none of them.",
      from: { path: "^support/" },
      to: { path: "^(bench|scripts)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(generated/prisma|dist)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"], extensions: [".ts", ".js", ".json"] },
    moduleSystems: ["es6", "cjs"],
  },
};
