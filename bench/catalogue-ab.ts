// npx tsx bench/catalogue-ab.ts — the catalogue's three reads on a shared machine, compared in
// paired, alternating runs: this checkout's service, another checkout's (BENCH_BASE_DIR, e.g. a
// `git worktree` of the commit a change started from, with node_modules) and the bare node:http +
// pg server, all three up at once on one PostgreSQL database, each read run against each in turn
// for a few seconds, round after round, the order reversed every other round. Medians of req/s,
// CPU µs per request and p99, and of each round's ratio to the bare server (taken seconds apart,
// so a busy neighbour weighs on both alike). The steady figures stay `npm run bench:catalogue`'s.
// Env: BENCH_BASE_DIR (required), BENCH_SIZE (default 1000), BENCH_ROUNDS (default 4),
// BENCH_DURATION (seconds per run, default 3), BENCH_CONNECTIONS (default 32).
import { registerUsers } from "./lib/api.js";
import { randomInts, runLoad } from "./lib/load.js";
import { main, onCleanup, startCluster } from "./lib/main.js";
import { createMigratedDatabase, seedProducts } from "./lib/postgres.js";
import { median, printTable } from "./lib/report.js";
import { serviceEnvironment, startNodeServer, type RunningServer } from "./lib/service.js";

const baseDir = process.env.BENCH_BASE_DIR;
const size = Number(process.env.BENCH_SIZE ?? 1000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const seconds = Number(process.env.BENCH_DURATION ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const TARGETS = ["base", "this", "bare"] as const;
type Target = (typeof TARGETS)[number];
const QUERIES = ["keyword list", "deep page", "get by id"] as const;

interface Run {
  rps: number;
  cpuUs: number;
  p99: number;
}

await main("catalogue-ab", async () => {
  if (!baseDir) throw new Error("BENCH_BASE_DIR: the checkout to compare with (a git worktree with node_modules)");
  const cluster = await startCluster();
  const url = await createMigratedDatabase(cluster, `catalogue_ab_${size}`);
  const { firstId, lastId } = await seedProducts(url, size);
  const servers = {} as Record<Target, RunningServer>;
  const start = async (target: Target, script: string, env: Record<string, string>) => {
    servers[target] = await startNodeServer(script, env);
    onCleanup(async () => void (await servers[target].stop()));
  };
  // Both services started the same way, from their own checkouts.
  await start("base", `${baseDir}/src/server.ts`, serviceEnvironment(url));
  await start("this", `${process.cwd()}/src/server.ts`, serviceEnvironment(url));
  await start("bare", "bench/baseline-server.ts", { DATABASE_URL: url, DB_POOL_MAX: "20" });
  const tokens: Record<Target, string | undefined> = {
    base: (await registerUsers(servers.base.baseUrl, 1, "abbase"))[0]!.token,
    this: (await registerUsers(servers.this.baseUrl, 1, "abthis"))[0]!.token,
    bare: undefined,
  };
  const random = randomInts(size);
  const paths: Record<(typeof QUERIES)[number], () => string> = {
    "keyword list": () => "/api/product/?keyword=red&max_price=5&limit=5",
    "deep page": () => `/api/product/?limit=5&offset=${size - 5}`,
    "get by id": () => `/api/product/${random(firstId, lastId)}`,
  };
  const load = (target: Target, query: (typeof QUERIES)[number], durationSeconds: number) =>
    runLoad({ baseUrl: servers[target].baseUrl, connections, durationSeconds, next: () => ({ path: paths[query](), token: tokens[target] }) });

  for (const target of TARGETS) for (const query of QUERIES) await load(target, query, 2); // warm-up
  const runs = new Map<string, Run[]>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? [...TARGETS].reverse() : TARGETS;
    for (const query of QUERIES) {
      for (const target of order) {
        const before = (await servers[target].cpuSeconds()) ?? 0;
        const result = await load(target, query, seconds);
        if (result.non2xx || result.errors) throw new Error(`${target} ${query}: ${result.non2xx} non-2xx, ${result.errors} errors`);
        const cpuUs = ((((await servers[target].cpuSeconds()) ?? 0) - before) * 1e6) / result.requests;
        runs.set(`${query} ${target}`, [...(runs.get(`${query} ${target}`) ?? []), { rps: result.rps, cpuUs, p99: result.p99 }]);
      }
    }
  }
  printTable(
    `${size} products, ${rounds} alternating rounds of ${seconds} s, ${connections} connections: medians (ratios: of each round's pair)`,
    QUERIES.flatMap((query) =>
      TARGETS.map((target) => {
        const [mine, bare] = [runs.get(`${query} ${target}`)!, runs.get(`${query} bare`)!];
        return {
          query,
          target,
          "req/s": Math.round(median(mine.map((r) => r.rps))),
          "CPU µs/req": Math.round(median(mine.map((r) => r.cpuUs))),
          p99: median(mine.map((r) => r.p99)),
          "req/s ÷ bare": `${median(mine.map((r, i) => r.rps / bare[i]!.rps)).toFixed(2)}×`,
          "bare CPU ÷ this CPU": `${median(mine.map((r, i) => bare[i]!.cpuUs / r.cpuUs)).toFixed(2)}×`,
        };
      }),
    ),
  );
  return true;
});
