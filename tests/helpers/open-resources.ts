/** How many of each kind of resource keep this process's event loop alive now (sockets, servers, timers…). */
export function openResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** The kinds of which more are open now than in `before`, with how many more. */
export function openedSince(before: Record<string, number>): Record<string, number> {
  const extra: Record<string, number> = {};
  for (const [kind, count] of Object.entries(openResources())) {
    if (count > (before[kind] ?? 0)) extra[kind] = count - (before[kind] ?? 0);
  }
  return extra;
}
