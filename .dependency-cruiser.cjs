// The allowed import directions (README, "Layers"), checked by `make lint`:
//   server.ts / cluster.ts -> app.ts -> plugins/ -> handlers/ -> domain/ -> db/
//   http/ is the transport layer (problem documents, validation, authentication) for app, plugins
//   and handlers; domain/ and db/ never import it. observability/, jobs/, errors/ and
//   spec-limits.ts are leaves beside db/.
//   src/ imports nothing from tests/, bench/, scripts/, support/ or client/ (the callers' typed
//   client), nor a devDependency; bench/ and scripts/ take their shared helpers from support/,
//   never from tests/.
// tests/unit/layering.test.ts proves that a wrong import fails this check.
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
      name: "domain-is-transport-free",
      severity: "error",
      comment: "The domain knows records and rules, not HTTP: no http/, handlers/, plugins/ or the app.",
      from: { path: "^src/domain/" },
      to: { path: "^src/(http|handlers|plugins|jobs)/|^src/(app|server|cluster)\\.ts$" },
    },
    {
      name: "db-is-the-bottom",
      severity: "error",
      comment: "db/ is below the domain: it imports nothing above it.",
      from: { path: "^src/db/" },
      to: { path: "^src/(domain|http|handlers|plugins|jobs)/|^src/(app|server|cluster)\\.ts$" },
    },
    {
      name: "handlers-below-plugins",
      severity: "error",
      comment: "Handlers get what they need passed in by the app; they never reach up into plugins/ or the app.",
      from: { path: "^src/handlers/" },
      to: { path: "^src/(plugins|jobs)/|^src/(app|server|cluster)\\.ts$" },
    },
    {
      name: "http-below-app",
      severity: "error",
      comment: "The transport layer serves handlers and plugins; it does not import them or the app.",
      from: { path: "^src/http/" },
      to: { path: "^src/(handlers|plugins|jobs)/|^src/(app|server|cluster)\\.ts$" },
    },
    {
      name: "leaves-stay-leaves",
      severity: "error",
      comment: "observability/, jobs/, errors/ and spec-limits.ts are used by everyone above db/, so they import nothing above it.",
      from: { path: "^src/(observability|jobs|errors)/|^src/spec-limits\\.ts$" },
      to: { path: "^src/(domain|http|handlers|plugins)/|^src/(app|server|cluster)\\.ts$" },
    },
    {
      name: "plugins-below-app",
      severity: "error",
      from: { path: "^src/plugins/" },
      to: { path: "^src/(app|server|cluster)\\.ts$" },
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
      from: { path: "^src/" },
      to: { path: "^(tests|bench|scripts|support|client)/" },
    },
    {
      name: "src-needs-no-dev-dependency",
      severity: "error",
      comment: "The production image installs dependencies only: what src/ runs must be one (type-only imports are erased).",
      from: { path: "^src/" },
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
