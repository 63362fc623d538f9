// npm run bench:hash — what one password hash costs at each argon2id setting OWASP rates equally
// strong, with as many hashes at once as the service allows on this machine: wall and CPU time per
// hash, and the memory the hashes in flight hold. The service's own setting is marked.
// Env: BENCH_HASH_ROUNDS (default 3), BENCH_HASHES (per setting and round, default 80),
// BENCH_HASH_PARALLEL (hashes at once, default the service's limit: cores, at most 2).
import { availableParallelism } from "node:os";
import argon2 from "argon2";
import { HASH_OPTIONS } from "../src/accounts/passwords.js";
import { main } from "./lib/main.js";
import { median, printTable, type Row } from "./lib/report.js";

const rounds = Number(process.env.BENCH_HASH_ROUNDS ?? 3);
const hashes = Number(process.env.BENCH_HASHES ?? 80);
const parallel = Number(process.env.BENCH_HASH_PARALLEL ?? Math.min(availableParallelism(), 2));

/** OWASP Password Storage Cheat Sheet: argon2id settings of equal strength (memory MiB, iterations). */
const SETTINGS = [
  { mib: 46, iterations: 1 },
  { mib: 19, iterations: 2 },
  { mib: 12, iterations: 3 },
  { mib: 9, iterations: 4 },
  { mib: 7, iterations: 5 },
];

async function measure(mib: number, iterations: number): Promise<{ wallMs: number; cpuMs: number }> {
  const options = { type: argon2.argon2id, memoryCost: mib * 1024, timeCost: iterations, parallelism: 1 } as const;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = 0; i < hashes / parallel; i++) await argon2.hash(`correct horse battery staple ${i}`, options);
    }),
  );
  const used = process.cpuUsage(cpu);
  return { wallMs: (performance.now() - started) / hashes, cpuMs: (used.user + used.system) / 1000 / hashes };
}

await main("bench:hash", async () => {
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`BENCH_HASH_ROUNDS: a whole number ≥ 1, not ${process.env.BENCH_HASH_ROUNDS}`);
  if (!(Number.isInteger(parallel) && parallel >= 1 && Number.isInteger(hashes / parallel) && hashes >= parallel)) {
    throw new Error(`BENCH_HASHES (${hashes}) must be a multiple of BENCH_HASH_PARALLEL (${parallel}), which is at least 1`);
  }
  const samples = new Map(SETTINGS.map((setting) => [setting, [] as { wallMs: number; cpuMs: number }[]]));
  await measure(9, 4); // warm-up: the thread pool and the allocator
  for (let round = 1; round <= rounds; round++) {
    // Alternating order, so that no setting always follows the same one.
    for (const setting of round % 2 === 0 ? [...SETTINGS].reverse() : SETTINGS) {
      samples.get(setting)!.push(await measure(setting.mib, setting.iterations));
    }
  }
  const rows: Row[] = SETTINGS.map((setting) => {
    const measured = samples.get(setting)!;
    const ours = setting.mib * 1024 === HASH_OPTIONS.memoryCost && setting.iterations === HASH_OPTIONS.timeCost;
    return {
      setting: `${setting.mib} MiB, ${setting.iterations} iteration${setting.iterations > 1 ? "s" : ""}${ours ? " (the service's)" : ""}`,
      "wall ms/hash": median(measured.map((m) => m.wallMs)),
      "CPU ms/hash": median(measured.map((m) => m.cpuMs)),
      "MiB in flight": setting.mib * parallel,
    };
  });
  printTable(`argon2id, ${hashes} hashes per setting, ${parallel} at once, medians of ${rounds} rounds`, rows);
  return true;
});
