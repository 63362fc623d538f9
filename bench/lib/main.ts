// Runs a benchmark: times it, tears down what it started (also on Ctrl-C), sets the exit code.
import { startPostgresCluster, type PostgresCluster } from "./postgres.js";
import { startService, type RunningServer } from "./service.js";

const cleanups: (() => Promise<void>)[] = [];

/** Registers teardown work; runs last-registered first. */
export function onCleanup(work: () => Promise<void>): void {
  cleanups.unshift(work);
}

async function cleanUp(): Promise<void> {
  for (const work of cleanups.splice(0)) await work().catch((error) => console.error("cleanup failed:", error));
}

/** `body` resolves true when every correctness check passed. */
export async function main(name: string, body: () => Promise<boolean>): Promise<never> {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
  }
  const started = performance.now();
  let ok = false;
  try {
    ok = await body();
  } catch (error) {
    console.error(`\n${name}: ERROR`, error);
  } finally {
    await cleanUp();
  }
  console.log(`\n${name}: ${ok ? "OK" : "FAILED"} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  process.exit(ok ? 0 : 1);
}

export async function startCluster(): Promise<PostgresCluster> {
  const cluster = await startPostgresCluster();
  onCleanup(() => cluster.stop());
  return cluster;
}

export async function startServiceFor(databaseUrl: string, env?: Record<string, string>): Promise<RunningServer> {
  const service = await startService(databaseUrl, env);
  onCleanup(async () => void (await service.stop()));
  return service;
}

/** Logs a step with its duration. */
export async function step<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  process.stdout.write(`${label} … `);
  const result = await work();
  console.log(`${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}
