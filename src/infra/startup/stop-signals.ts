import { readFileSync } from "node:fs";

type StopSignal = "SIGINT" | "SIGTERM";

/** A repeat of a stop signal within this is the same request delivered twice, not an operator's second one. */
export const DUPLICATE_WINDOW_MS = 1_000;
const PARENT_CHECK_MS = 250;

export interface StopSignalOptions {
  /** Told of a second stop signal, just before the process exits 1 without waiting. */
  onForcedExit(signal: StopSignal): void;
  /** Reads /proc/<pid>/status (tests give their own). */
  readStatus?: (pid: number) => string | undefined;
}

/**
 * Calls `stop` on the first SIGINT or SIGTERM. Then:
 * - the same signal again within DUPLICATE_WINDOW_MS is ignored: a signal to the process group
 *   under `make run` reaches the service twice (from the group, and as make forwards SIGTERM);
 * - any later one exits at once (exit code 1), for an operator who will not wait for the drain.
 * Under make (MAKELEVEL set, on Linux) it also stops when make itself is told to stop and does not
 * pass it on: GNU make forwards SIGTERM to its recipe but, on SIGINT, SIGHUP or SIGQUIT sent to its
 * pid alone, only waits for the recipe to end. Make then runs its handler for that signal (the
 * signal blocked, its disposition back to the default), which /proc/<make>/status shows; or make
 * is gone altogether. Returns a function that removes the listeners.
 */
export function onStopSignals(stop: (signal: StopSignal) => void, options: StopSignalOptions): () => void {
  let first: { signal: StopSignal; at: number } | undefined;
  const received = (signal: StopSignal) => {
    const now = performance.now();
    if (!first) {
      first = { signal, at: now };
      stop(signal);
      return;
    }
    if (signal === first.signal && now - first.at < DUPLICATE_WINDOW_MS) return;
    options.onForcedExit(signal);
    process.exit(1);
  };
  const onInt = () => received("SIGINT");
  const onTerm = () => received("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  const watcher = process.env.MAKELEVEL && process.platform === "linux" ? watchParentMake(() => !first && received("SIGINT"), options.readStatus) : undefined;
  return () => {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    if (watcher) clearInterval(watcher);
  };
}

/** Signals make handles by waiting for its recipe: SIGHUP, SIGINT, SIGQUIT (numbers 1 to 3). */
const UNFORWARDED = [1, 2, 3].map((signal) => 1n << BigInt(signal - 1));

const readProcStatus = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
};

const maskOf = (status: string, field: string): bigint => {
  const hex = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, "m").exec(status)?.[1];
  return hex ? BigInt(`0x${hex}`) : 0n;
};

/**
 * True when the process with this status is running its handler of SIGHUP, SIGINT or SIGQUIT:
 * the signal is blocked while the handler runs, and make has put its disposition back to the
 * default (no longer caught) so that it can die of it once its children have ended.
 */
export function handlingStopSignal(status: string): boolean {
  const blocked = maskOf(status, "SigBlk");
  const caught = maskOf(status, "SigCgt");
  return UNFORWARDED.some((bit) => (blocked & bit) !== 0n && (caught & bit) === 0n);
}

function watchParentMake(stop: () => void, readStatus = readProcStatus): NodeJS.Timeout {
  const parent = process.ppid;
  // Twice in a row: a glance at make in the middle of other work is not a verdict.
  let seen = 0;
  return setInterval(() => {
    const status = process.ppid === parent ? readStatus(parent) : undefined;
    seen = status === undefined || handlingStopSignal(status) ? seen + 1 : 0;
    if (seen >= 2) stop();
  }, PARENT_CHECK_MS).unref();
}
