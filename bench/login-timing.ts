// npm run bench:login — does a failed login take as long for an unknown name as for an existing
// one? Sequential POST /api/token/ with a wrong password, the two kinds interleaved.
// Env: BENCH_LOGIN_ROUNDS (requests of each kind, default 200).
import { call, registerUsers, type ApiResponse } from "./lib/api.js";
import { main, startCluster, startServiceFor, step } from "./lib/main.js";
import { createMigratedDatabase } from "./lib/postgres.js";
import { printChecks, printTable, summarize } from "./lib/report.js";

const rounds = Number(process.env.BENCH_LOGIN_ROUNDS ?? 200);
const WARMUP_ROUNDS = 10;
const MAX_RELATIVE_DIFFERENCE = 0.2;

await main("bench:login", async () => {
  if (!(rounds >= 1 && rounds <= 10_000)) throw new Error(`BENCH_LOGIN_ROUNDS: 1..10000, not ${rounds}`);
  const cluster = await startCluster();
  const databaseUrl = await step("database + migrations", () => createMigratedDatabase(cluster, "login"));
  const service = await step("starting service", () => startServiceFor(databaseUrl));
  const [user] = await registerUsers(service.baseUrl, 1, "timing");
  const kinds = {
    "existing name": { name: user!.name, password: "wrong-password-123" },
    "unknown name": { name: "nobody-by-that-name", password: "wrong-password-123" },
  };
  const attempt = (kind: keyof typeof kinds) => call(service.baseUrl, "POST", "/api/token/", { body: kinds[kind] });

  const answers: Record<keyof typeof kinds, ApiResponse[]> = { "existing name": [], "unknown name": [] };
  await step(`${WARMUP_ROUNDS} + ${rounds} rounds of both, interleaved`, async () => {
    for (let i = 0; i < WARMUP_ROUNDS; i++) {
      await attempt("existing name");
      await attempt("unknown name");
    }
    for (let i = 0; i < rounds; i++) {
      // Alternate which goes first, so neither always follows the other.
      const order = i % 2 === 0 ? (["existing name", "unknown name"] as const) : (["unknown name", "existing name"] as const);
      for (const kind of order) answers[kind].push(await attempt(kind));
    }
  });

  const stats = Object.fromEntries(Object.entries(answers).map(([kind, list]) => [kind, summarize(list.map((a) => a.ms))])) as Record<
    keyof typeof kinds,
    ReturnType<typeof summarize>
  >;
  printTable(
    `Failed login time (ms, ${rounds} sequential requests each)`,
    Object.entries(stats).map(([kind, s]) => ({ kind, n: s.n, mean: s.mean, p50: s.p50, p99: s.p99 })),
  );
  const [existing, unknown] = [stats["existing name"], stats["unknown name"]];
  const relative = Math.abs(existing.mean - unknown.mean) / ((existing.mean + unknown.mean) / 2);
  console.log(`\n  mean difference: ${(existing.mean - unknown.mean).toFixed(2)} ms (${(100 * relative).toFixed(1)} % of the mean)`);

  const all = [...answers["existing name"], ...answers["unknown name"]];
  const statuses = [...new Set(all.map((a) => a.status))];
  // Every problem carries its own request_id; the rest must not tell the two kinds apart.
  const withoutRequestId = (a: ApiResponse) => (typeof a.body === "object" && a.body !== null ? JSON.stringify({ ...a.body, request_id: undefined }) : a.text);
  const bodies = [...new Set(all.map(withoutRequestId))];
  return printChecks("Checks", [
    { name: "same status for both", ok: statuses.length === 1 && statuses[0] === 401, detail: `statuses: ${statuses.join(", ")}` },
    {
      name: "identical bodies for both",
      ok: bodies.length === 1,
      detail: bodies.length === 1 ? bodies[0]!.slice(0, 110) : `${bodies.length} different bodies, e.g. ${bodies.slice(0, 2).join(" | ").slice(0, 200)}`,
    },
    {
      name: `mean difference < ${100 * MAX_RELATIVE_DIFFERENCE} % of the mean`,
      ok: relative < MAX_RELATIVE_DIFFERENCE,
      detail: `${(100 * relative).toFixed(1)} %`,
    },
  ]);
});
