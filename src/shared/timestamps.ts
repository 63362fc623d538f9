// Strict reading of RFC 3339 date-times. JavaScript's Date.parse is lenient (it reads
// "2024-02-30" as March 1st), and PostgreSQL refuses what does not exist (and year 0): a value
// that reaches SQL must have been checked here first, so a bad one is a 400, never a 500.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** The first and last instants of years 1 to 9999 (Date.UTC would read year 1 as 1901). */
const FIRST_MS = (() => {
  const date = new Date(0);
  date.setUTCFullYear(1, 0, 1);
  date.setUTCHours(0, 0, 0, 0);
  return date.getTime();
})();
const LAST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const isLeap = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysIn = (year: number, month: number) => (month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!);

/** An instant read from text: its millisecond, and whether the text said more than that (microseconds). */
export interface ParsedInstant {
  ms: number;
  /** True when the text had a non-zero fraction below the millisecond. */
  subMillisecond: boolean;
}

/**
 * Reads an RFC 3339 date-time with a time zone, refusing dates that do not exist (February 30th),
 * leap seconds (JavaScript and PostgreSQL have none) and instants outside years 1 to 9999 (UTC).
 * Undefined when the text is not one.
 */
export function parseDateTime(text: string): ParsedInstant | undefined {
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fraction = match[7] ?? "";
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (!match[8]) {
    const [offsetHours, offsetMins] = [Number(match[10]), Number(match[11])];
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (match[9] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number(fraction.slice(0, 3).padEnd(3, "0")));
  const ms = date.getTime() - offsetMinutes * 60_000;
  if (ms < FIRST_MS || ms > LAST_MS) return undefined;
  return { ms, subMillisecond: /[1-9]/.test(fraction.slice(3)) };
}

/** True for exactly what Date.prototype.toISOString writes for an instant in years 1 to 9999 ("2026-01-01T12:00:00.000Z"). */
export function isIsoMillisecondTimestamp(value: unknown): value is string {
  if (typeof value !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(value)) return false;
  const parsed = parseDateTime(value);
  return parsed !== undefined && new Date(parsed.ms).toISOString() === value;
}
