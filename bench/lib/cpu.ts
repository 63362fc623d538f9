// CPU time of processes from /proc (Linux), for figures per request that a shared machine's
// wall clock cannot give: what a phase cost, not how fast it ran while others also ran.
import { readdir, readFile } from "node:fs/promises";
import { withClient } from "./postgres.js";

const TICKS_PER_SECOND = 100;

interface Stat {
  ppid: number;
  /** utime + stime, in seconds. */
  own: number;
  /** cutime + cstime: the children it has waited for (ended connections of a postmaster), in seconds. */
  children: number;
}

async function statOf(pid: number): Promise<Stat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  if (!text) return undefined;
  // Fields after the command's closing parenthesis: state is [0], ppid [1], utime [11] … cstime [14].
  const fields = text
    .slice(text.lastIndexOf(")") + 2)
    .split(" ")
    .map(Number);
  return { ppid: fields[1]!, own: (fields[11]! + fields[12]!) / TICKS_PER_SECOND, children: (fields[13]! + fields[14]!) / TICKS_PER_SECOND };
}

/** CPU seconds used so far by `pid`, its live children and the children it has reaped. */
export async function treeCpuSeconds(pid: number): Promise<number> {
  const root = await statOf(pid);
  if (!root) return Number.NaN;
  const pids = (await readdir("/proc")).filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = await Promise.all(pids.map(statOf));
  return stats.reduce((sum, stat) => (stat?.ppid === pid ? sum + stat.own : sum), root.own + root.children);
}

/** The PostgreSQL server behind `url` (its postmaster: the parent of a backend), for treeCpuSeconds. */
export async function postmasterPid(url: string): Promise<number> {
  // Read while the connection, and so its backend, is still there.
  const backend = await withClient(url, async (client) => statOf((await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid));
  if (!backend) throw new Error("the PostgreSQL server is not on this machine");
  return backend.ppid;
}
