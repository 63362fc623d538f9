// Plain-text tables and formatting of figures.
export type Row = Record<string, string | number | undefined>;

export function printTable(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  if (rows.length === 0) return void console.log("  (no rows)");
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cell = (value: Row[string]) => (value === undefined ? "" : typeof value === "number" ? fmt(value) : value);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((row) => cell(row[c]).length)));
  const line = (values: string[]) => `  ${values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join("  ")}`;
  console.log(line(columns));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of rows) console.log(line(columns.map((c) => cell(row[c]))));
}

/** Integers as is, other numbers with 1–3 significant decimals. */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
}

export const mib = (bytes: number | undefined) => (bytes === undefined ? "n/a" : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

export const statusSummary = (statuses: Record<string, number>) =>
  Object.entries(statuses)
    .sort()
    .map(([code, count]) => `${code}:${count}`)
    .join(" ") || "-";

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarize(samples: number[]): { n: number; mean: number; p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const mean = sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
  return { n: sorted.length, mean, p50: at(0.5), p99: at(0.99) };
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export function printChecks(title: string, checks: Check[]): boolean {
  const short = (text: string) => (text.length > 160 ? `${text.slice(0, 157)}…` : text);
  printTable(
    title,
    checks.map((c) => ({ check: c.name, result: c.ok ? "PASS" : "FAIL", detail: short(c.detail) })),
  );
  return checks.every((c) => c.ok);
}

/**
 * One work item measured against its ceilings: pgbench running the same SQL (the database's own
 * throughput), the bare node:http + pg server, and the service.
 */
export interface CeilingRow {
  work: string;
  database: string;
  products?: number;
  pgbenchTps?: number;
  baselineRps?: number;
  serviceRps: number;
  /** The service's p99 latency in ms. */
  p99: number;
  /** CPU time per request of the service and of the baseline (µs), where measured. */
  serviceCpuUs?: number;
  baselineCpuUs?: number;
}

const share = (part: number | undefined, whole: number | undefined) => (part !== undefined && whole ? `${((100 * part) / whole).toFixed(0)} %` : "n/a");

export function ceilingTable(rows: CeilingRow[]): Row[] {
  return rows.map((r) => ({
    work: r.work,
    database: r.database,
    products: r.products,
    "pgbench tps": r.pgbenchTps === undefined ? "n/a" : Math.round(r.pgbenchTps),
    "baseline req/s": r.baselineRps === undefined ? "n/a" : Math.round(r.baselineRps),
    "service req/s": Math.round(r.serviceRps),
    "service/pgbench": share(r.serviceRps, r.pgbenchTps),
    "service/baseline": r.baselineRps ? `${(r.serviceRps / r.baselineRps).toFixed(2)}×` : "n/a",
    "p99 ms": r.p99,
    ...(r.serviceCpuUs !== undefined ? { "service CPU µs/req": Math.round(r.serviceCpuUs) } : {}),
    ...(r.baselineCpuUs !== undefined ? { "baseline CPU µs/req": Math.round(r.baselineCpuUs) } : {}),
  }));
}

/** Appends rows to BENCH_RESULTS_FILE (JSON lines) when set, for `npm run bench`'s final table. */
export async function recordCeilings(rows: CeilingRow[]): Promise<void> {
  const file = process.env.BENCH_RESULTS_FILE;
  if (!file || rows.length === 0) return;
  const { appendFile } = await import("node:fs/promises");
  await appendFile(file, `${rows.map((row) => JSON.stringify(row)).join("\n")}\n`);
}
