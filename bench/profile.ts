// npm run profile — CPU profiles of the service under load on its two hot reads (product by id,
// keyword + max_price page), taken with Node's own sampling profiler (node --cpu-prof), saved as
// flame graph SVGs of the loaded seconds alone, with the frames that use the most CPU themselves
// (PROFILE_KEEP_RAW=1 also keeps the whole .cpuprofile, for Chrome DevTools or speedscope, and
// the loaded seconds alone as .load.cpuprofile). One service per read, so each profile holds that
// read alone.
// Env: BENCH_DATABASES (default postgres,embedded), BENCH_DURATION (seconds of load, default 10),
// BENCH_CONNECTIONS (32), PROFILE_DIR (default docs/profiles), BENCH_KEYWORD (default red),
// BENCH_MAX_PRICE (default 5): the reference's own list, `?limit=5&keyword=red&max_price=5`;
// PROFILE_TRACING_RATIO (e.g. 0.1): the service with tracing on, exporting to the benchmark's
// receiver and sampling that share of requests (compare with a run without it: the tables of self
// time by package say, in µs per request, what tracing adds and where).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerUsers } from "./lib/api.js";
import { benchDatabases, createBenchDatabase } from "./lib/databases.js";
import { flameGraphSvg, selfTimeByOwner, sliceProfile, topSelfTime } from "./lib/flamegraph.js";
import { benchDuration, randomInts, runLoad, WARMUP_SECONDS } from "./lib/load.js";
import { main, onCleanup, step } from "./lib/main.js";
import { startOtlpSink, tracingEnvironment } from "./lib/otlp-sink.js";
import { mainThreadProfile } from "./lib/phase-profile.js";
import { seedProducts } from "./lib/postgres.js";
import { printTable, type Row } from "./lib/report.js";

const PRODUCTS = 1_000;
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const keyword = process.env.BENCH_KEYWORD ?? "red";
const maxPrice = process.env.BENCH_MAX_PRICE ?? "5";
const outDir = process.env.PROFILE_DIR ?? "docs/profiles";
const tracingRatio = process.env.PROFILE_TRACING_RATIO;

await main("profile", async () => {
  await mkdir(outDir, { recursive: true });
  const summary: Row[] = [];
  let serviceEnv: Record<string, string> = {};
  if (tracingRatio) {
    const sink = await startOtlpSink();
    onCleanup(async () => sink.close());
    serviceEnv = tracingEnvironment(sink, tracingRatio);
  }
  for (const database of benchDatabases()) {
    const db = await step(`[${database}] database + migrations`, () => createBenchDatabase(database, "profile"));
    const { firstId, lastId } = await step(`[${database}] seeding ${PRODUCTS} products`, () => db.withUrl((url) => seedProducts(url, PRODUCTS)));
    const random = randomInts(PRODUCTS);
    const reads = [
      { name: "product-by-id", path: () => `/api/product/${random(firstId, lastId)}` },
      { name: "keyword-page", path: () => `/api/product/?limit=5&keyword=${keyword}&max_price=${maxPrice}` },
    ];
    for (const read of reads) {
      const profileDir = await mkdtemp(join(tmpdir(), "order-service-profile-"));
      onCleanup(() => rm(profileDir, { recursive: true, force: true }));
      const label = `[${database}] ${read.name}`;
      const service = await step(`${label}: starting the service under --cpu-prof`, () =>
        db.startService(serviceEnv, ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]),
      );
      onCleanup(async () => void (await service.stop()));
      const [user] = await registerUsers(service.baseUrl, 1);
      const next = () => ({ path: read.path(), token: user!.token });
      await step(`${label}: warm-up (${WARMUP_SECONDS} s)`, () => runLoad({ baseUrl: service.baseUrl, connections, durationSeconds: WARMUP_SECONDS, next }));
      const load = await step(`${label}: load (${benchDuration()} s)`, () => runLoad({ baseUrl: service.baseUrl, connections, next }));
      const stopped = await service.stop(); // the profile is written as the process exits
      const { text: profileText, profile: whole } = await mainThreadProfile(profileDir);
      // Only the measured load: the profile ends at exit, `stopped.seconds` after the load ended.
      const end = whole.endTime - whole.startTime - stopped.seconds * 1e6;
      const profile = sliceProfile(whole, end - benchDuration() * 1e6, end);
      const base = join(outDir, `${database}-${read.name}${tracingRatio ? `-tracing-${tracingRatio}` : ""}`);
      if (process.env.PROFILE_KEEP_RAW) {
        await writeFile(`${base}.cpuprofile`, profileText);
        await writeFile(`${base}.load.cpuprofile`, JSON.stringify(profile));
      }
      const title = `${database} · ${read.name} · ${Math.round(load.rps)} req/s · ${connections} connections · ${benchDuration()} s under --cpu-prof`;
      await writeFile(`${base}.svg`, flameGraphSvg(profile, title));
      console.log(`  wrote ${base}.svg`);
      printTable(
        `${label}: top self time (share of busy CPU samples)`,
        topSelfTime(profile).map((t) => ({ "self %": t.percent, "self ms": t.ms, frame: t.frame })),
      );
      printTable(
        `${label}: self time by package (µs per request)`,
        selfTimeByOwner(profile).map((t) => ({ "self %": t.percent, "µs/req": (t.ms * 1000) / load.requests, package: t.frame })),
      );
      summary.push({ database, read: read.name, "req/s": load.rps, p99: load.p99, requests: load.requests, non2xx: load.non2xx });
    }
  }
  printTable("Load while profiling (the profiler costs throughput: compare with npm run bench, not with these)", summary);
  return summary.every((s) => s.non2xx === 0);
});
