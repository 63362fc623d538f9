// A service's CPU profile (node --cpu-prof) read back by a benchmark, and what one kind of phase
// of the benchmark added over another in it: each function's and each package's self time per unit
// of work (an order, a request), summed over the phases of each kind.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { frameLabel, frameOwner, sliceProfile, type CpuProfile } from "./flamegraph.js";

/** A phase of a benchmark: when it ran (monotonicMicros at its start and end) and how many units of work it did. */
export interface PhaseWindow {
  fromUs: number;
  toUs: number;
  units: number;
}

/**
 * Now on the clock V8 stamps its CPU profiles with (CLOCK_MONOTONIC on Linux, in µs, the same in
 * every process of the machine), so that a benchmark can tell which of a service's samples fell in
 * which of its phases.
 */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** The main thread's profile among those a process wrote into `dir` (worker threads write their own: the main thread's is the largest). */
export async function mainThreadProfile(dir: string): Promise<{ text: string; profile: CpuProfile }> {
  const texts = await Promise.all((await readdir(dir)).filter((f) => f.endsWith(".cpuprofile")).map((f) => readFile(join(dir, f), "utf8")));
  const text = texts.sort((a, b) => b.length - a.length)[0];
  if (!text) throw new Error(`no CPU profile written in ${dir}`);
  return { text, profile: JSON.parse(text) as CpuProfile };
}

export interface AddedSelfTime {
  /** A package (or the service's own code, Node's internals, V8) or a function. */
  where: string;
  /** µs of self time per unit in the base phases and in the measured ones. */
  base: number;
  measured: number;
  added: number;
}

/** Self time per unit (µs) in `windows`, by `keyOf` each frame. */
function selfTimePerUnit(profile: CpuProfile, windows: readonly PhaseWindow[], keyOf: typeof frameOwner): Map<string, number> {
  const units = Math.max(
    1,
    windows.reduce((sum, w) => sum + w.units, 0),
  );
  const perUnit = new Map<string, number>();
  for (const window of windows) {
    const slice = sliceProfile(profile, window.fromUs - profile.startTime, window.toUs - profile.startTime);
    const usPerSample = (slice.endTime - slice.startTime) / Math.max(1, slice.samples?.length ?? 0);
    for (const node of slice.nodes) {
      if (!node.hitCount || node.callFrame.functionName === "(idle)" || node.callFrame.functionName === "(program)") continue;
      const key = keyOf(node.callFrame);
      perUnit.set(key, (perUnit.get(key) ?? 0) + (node.hitCount * usPerSample) / units);
    }
  }
  return perUnit;
}

/** What the `measured` phases added over the `base` ones, per unit of work, by package or by function; the largest additions first. */
export function addedSelfTime(
  profile: CpuProfile,
  base: readonly PhaseWindow[],
  measured: readonly PhaseWindow[],
  by: "package" | "function",
  count = 15,
): AddedSelfTime[] {
  const keyOf = by === "package" ? frameOwner : frameLabel;
  const [before, after] = [selfTimePerUnit(profile, base, keyOf), selfTimePerUnit(profile, measured, keyOf)];
  const total = (m: Map<string, number>) => [...m.values()].reduce((sum, v) => sum + v, 0);
  const rows = [...new Set([...before.keys(), ...after.keys()])]
    .map((where) => ({ where, base: before.get(where) ?? 0, measured: after.get(where) ?? 0 }))
    .map((row) => ({ ...row, added: row.measured - row.base }))
    .sort((a, b) => b.added - a.added)
    .slice(0, count);
  return [{ where: "(all)", base: total(before), measured: total(after), added: total(after) - total(before) }, ...rows];
}
