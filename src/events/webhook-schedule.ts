/** The delays after each failed attempt (WEBHOOK_RETRY_SCHEDULE_MS); one attempt more than delays. */
export function parseSchedule(text: string): number[] {
  return text.split(",").map(Number);
}

/** After failed attempt `attempt` (1-based): the delay before the next, or null when it was the last. */
export function nextDelayMs(schedule: readonly number[], attempt: number, retryAfterMs?: number, random = Math.random): number | null {
  const base = schedule[attempt - 1];
  if (base === undefined) return null;
  // Retry-After (429, 503) is honoured as asked; otherwise ±20 % jitter spreads retries of many endpoints.
  if (retryAfterMs !== undefined) return retryAfterMs;
  return Math.round(base * (0.8 + 0.4 * random()));
}
