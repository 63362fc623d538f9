// npm run bench:tracing — what tracing costs: the same service, catalogue reads and order
// placements, started alternately with tracing off and on (OTLP to the benchmark's receiver,
// OTEL_TRACES_SAMPLER=parentbased_traceidratio at BENCH_TRACING_RATIO, default 0.1), round after
// round, so that both modes see the same share of a shared machine's noise. Compares the service
// process's CPU time per request (the steady figure) and req/s: the median of the rounds' changes,
// each round's "on" against the same round's "off" (a median per mode across rounds let one slow
// round of "off" flatter the change).
// Env: BENCH_DATABASES (default embedded), BENCH_ROUNDS (default 3), BENCH_DURATION (seconds per
// measurement, default 10), BENCH_CONNECTIONS (default 32), BENCH_TRACING_RATIO (default 0.1),
// BENCH_WARMUP (seconds, default 2); BENCH_SERVICE_DIR measures another checkout (service.ts).
import { registerUsers } from "./lib/api.js";
import { benchDatabases, createBenchDatabase } from "./lib/databases.js";
import { benchDuration, randomInts, randomOrder, runLoad, WARMUP_SECONDS, type RequestSpec } from "./lib/load.js";
import { main, onCleanup, step } from "./lib/main.js";
import { startOtlpSink, tracingEnvironment } from "./lib/otlp-sink.js";
import { seedProducts } from "./lib/postgres.js";
import { median, printChecks, printTable, type Check, type Row } from "./lib/report.js";

const PRODUCTS = 1_000;
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const ratio = process.env.BENCH_TRACING_RATIO ?? "0.1";
const databases = process.env.BENCH_DATABASES ? benchDatabases() : (["embedded"] as const);

const MODES = ["off", "on"] as const;
type Mode = (typeof MODES)[number];

interface Sample {
  round: number;
  database: string;
  work: string;
  mode: Mode;
  rps: number;
  cpuUs: number;
  non2xx: number;
  errors: number;
}

await main("bench:tracing", async () => {
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`BENCH_ROUNDS: a whole number ≥ 1, not ${process.env.BENCH_ROUNDS}`);
  const sink = await startOtlpSink();
  onCleanup(async () => sink.close());
  const tracingEnv: Record<Mode, Record<string, string>> = {
    off: {},
    on: tracingEnvironment(sink, ratio),
  };
  const samples: Sample[] = [];
  for (const database of databases) {
    const db = await step(`[${database}] database + migrations`, () => createBenchDatabase(database, "tracing"));
    const { firstId, lastId } = await step(`[${database}] seeding ${PRODUCTS} products`, () => db.withUrl((url) => seedProducts(url, PRODUCTS)));
    const ids = Array.from({ length: lastId - firstId + 1 }, (_, i) => firstId + i);
    const random = randomInts(7);
    const works: { name: string; next: (token: string) => RequestSpec }[] = [
      { name: "product by id", next: (token) => ({ path: `/api/product/${random(firstId, lastId)}`, token }) },
      { name: "keyword page", next: (token) => ({ path: "/api/product/?limit=5&keyword=red&max_price=5", token }) },
      { name: "place order", next: (token) => ({ method: "POST", path: "/api/order/", body: randomOrder(random, ids), token }) },
    ];
    for (let round = 1; round <= rounds; round++) {
      // Alternate which mode goes first, so that neither always follows the other.
      for (const mode of round % 2 ? MODES : [...MODES].reverse()) {
        const label = `[${database} round ${round}/${rounds} tracing ${mode}]`;
        const service = await step(`${label} starting service`, () => db.startService(tracingEnv[mode]));
        onCleanup(async () => void (await service.stop()));
        const users = await registerUsers(service.baseUrl, connections, `tracing${round}${mode}`);
        const token = () => users[random(0, users.length - 1)]!.token;
        for (const work of works) {
          const next = () => work.next(token());
          await step(`${label} ${work.name} warm-up (${WARMUP_SECONDS} s)`, () =>
            runLoad({ baseUrl: service.baseUrl, connections, durationSeconds: WARMUP_SECONDS, next }),
          );
          const cpuBefore = (await service.cpuSeconds()) ?? Number.NaN;
          const load = await step(`${label} ${work.name} (${benchDuration()} s)`, () => runLoad({ baseUrl: service.baseUrl, connections, next }));
          const cpuAfter = (await service.cpuSeconds()) ?? Number.NaN;
          samples.push({
            round,
            database,
            work: work.name,
            mode,
            rps: load.rps,
            cpuUs: ((cpuAfter - cpuBefore) * 1e6) / load.requests,
            non2xx: load.non2xx,
            errors: load.errors,
          });
        }
        await service.stop();
      }
    }
  }

  printTable(
    "Every measurement (CPU µs per request of the service process)",
    samples.map((s) => ({ database: s.database, work: s.work, tracing: s.mode, "req/s": s.rps, "CPU µs/req": s.cpuUs, non2xx: s.non2xx, errors: s.errors })),
  );
  const rows: Row[] = [];
  for (const database of new Set(samples.map((s) => s.database))) {
    for (const work of new Set(samples.map((s) => s.work))) {
      const of = (mode: Mode) => samples.filter((s) => s.database === database && s.work === work && s.mode === mode);
      const [off, on] = [of("off"), of("on")];
      const [cpuOff, cpuOn] = [median(off.map((s) => s.cpuUs)), median(on.map((s) => s.cpuUs))];
      const [rpsOff, rpsOn] = [median(off.map((s) => s.rps)), median(on.map((s) => s.rps))];
      // Each round's on against the same round's off (measured minutes apart at most), then their median.
      const changes = on.flatMap((s) => {
        const paired = off.find((o) => o.round === s.round);
        return paired ? [{ rps: s.rps / paired.rps - 1, cpu: s.cpuUs / paired.cpuUs - 1 }] : [];
      });
      const percent = (change: number) => `${change > 0 ? "+" : ""}${(100 * change).toFixed(1)} %`;
      rows.push({
        database,
        work,
        "CPU µs/req off": cpuOff,
        [`on (${ratio})`]: cpuOn,
        "CPU cost": percent(median(changes.map((c) => c.cpu))),
        "req/s off": rpsOff,
        [`req/s on (${ratio})`]: rpsOn,
        "req/s change": percent(median(changes.map((c) => c.rps))),
        "round by round": changes.map((c) => percent(c.rps)).join(", "),
      });
    }
  }
  printTable(`Tracing off vs on at ratio ${ratio}: medians of ${rounds} rounds (the changes: of each round's on against its off)`, rows);
  const exports = await sink.exports();
  const checks: Check[] = [
    { name: "every request answered 2xx", ok: samples.every((s) => s.non2xx === 0 && s.errors === 0), detail: `${samples.length} measurements` },
    { name: "spans were exported while tracing was on", ok: exports > 0, detail: `${exports} OTLP exports received` },
  ];
  return printChecks("Correctness", checks);
});
