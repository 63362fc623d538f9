// autocannon against one URL: fixed connections, bounded by duration (and optionally a request count).
import autocannon from "autocannon";

export interface RequestSpec {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
}

export interface LoadOptions {
  baseUrl: string;
  /** Builds each request afresh, so paths, bodies and tokens can vary. */
  next: () => RequestSpec;
  connections?: number;
  durationSeconds?: number;
  /** Checks each answer against the request that asked for it: a description of what is wrong, or undefined. */
  check?: (spec: RequestSpec, status: number, body: string) => string | undefined;
}

export interface LoadResult {
  requests: number;
  rps: number;
  /** Latency percentiles in ms. */
  p50: number;
  p99: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  statuses: Record<string, number>;
  /** Answers ≥ 400 by "<status> <problem code>", with the detail of the first one. */
  problems: Record<string, { count: number; detail: string }>;
  /** Answers `check` found wrong, and the first few descriptions. */
  wrong: number;
  firstWrong: string[];
}

/** How many wrong answers a result keeps the description of. */
const WRONG_KEPT = 5;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const durationSeconds = options.durationSeconds ?? benchDuration();
  const problems: LoadResult["problems"] = {};
  const firstWrong: string[] = [];
  let wrong = 0;
  // autocannon keeps one request in flight per connection: its context knows which one an answer is for.
  const request: autocannon.Request = {
    setupRequest: (base, context: { spec?: RequestSpec }) => {
      const spec = options.next();
      context.spec = spec;
      return {
        ...base,
        method: spec.method ?? "GET",
        path: spec.path,
        headers: {
          ...(spec.token ? { authorization: `Bearer ${spec.token}` } : {}),
          ...(spec.body !== undefined ? { "content-type": "application/json" } : {}),
          ...spec.headers,
        },
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
      } as autocannon.Request;
    },
    onResponse: (status: number, body: string, context: { spec?: RequestSpec }) => {
      const fault = options.check && context.spec ? options.check(context.spec, status, body) : undefined;
      if (fault !== undefined && wrong++ < WRONG_KEPT) firstWrong.push(`${context.spec?.method ?? "GET"} ${context.spec?.path}: ${fault}`);
      if (status < 400) return;
      const { code, detail } = problemOf(body);
      const entry = (problems[`${status} ${code}`] ??= { count: 0, detail });
      entry.count++;
    },
  };
  const result = await autocannon({
    url: options.baseUrl,
    connections: options.connections ?? 32,
    duration: durationSeconds,
    timeout: 30,
    requests: [request],
  });
  const statuses = Object.fromEntries(
    Object.entries((result as unknown as { statusCodeStats: Record<string, { count: number }> }).statusCodeStats).map(([code, { count }]) => [code, count]),
  );
  return {
    requests: result.requests.total,
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    statuses,
    problems,
    wrong,
    firstWrong,
  };
}

/** BENCH_DURATION (seconds), default 10. */
export function benchDuration(): number {
  const seconds = Number(process.env.BENCH_DURATION ?? 10);
  if (!(seconds > 0 && seconds <= 3600)) throw new Error(`BENCH_DURATION must be 1..3600 seconds, not ${process.env.BENCH_DURATION}`);
  return seconds;
}

/** A deterministic pseudo-random integer in [min, max] (xorshift, so runs are repeatable). */
export function randomInts(seed = 42): (min: number, max: number) => number {
  let state = seed >>> 0 || 1;
  return (min, max) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return min + ((state >>> 0) % (max - min + 1));
  };
}

/** Cycles through `items`: one per call. */
export function roundRobin<T>(items: T[]): () => T {
  if (items.length === 0) throw new Error("roundRobin: no items");
  let i = 0;
  return () => items[i++ % items.length]!;
}

/** An order body of 1–maxLines distinct products from `ids`, 1–maxQuantity units each. */
export function randomOrder(
  random: (min: number, max: number) => number,
  ids: number[],
  maxLines = 3,
  maxQuantity = 3,
): { products: { id: number; quantity: number }[] } {
  const chosen = new Set<number>();
  const lines = random(1, Math.min(maxLines, ids.length));
  for (let tries = 0; chosen.size < lines && tries < 20; tries++) chosen.add(ids[random(0, ids.length - 1)]!);
  return { products: [...chosen].map((id) => ({ id, quantity: random(1, maxQuantity) })) };
}

/** The `code` and `detail` of a problem document ("?" and the text when the body is not one). */
export function problemOf(body: string): { code: string; detail: string } {
  try {
    const problem = JSON.parse(body);
    return { code: String(problem.code ?? "?"), detail: String(problem.detail ?? "") };
  } catch {
    return { code: "?", detail: body.slice(0, 200) };
  }
}

export const problemCode = (body: string) => problemOf(body).code;

/** "400 insufficient-stock ×12; 503 service-unavailable ×2 (The database is …)" */
export function describeProblems(problems: LoadResult["problems"], withDetail = true): string {
  return Object.entries(problems)
    .map(([key, { count, detail }]) => `${key} ×${count}${withDetail && detail ? ` (${detail})` : ""}`)
    .join("; ");
}

/** BENCH_WARMUP (seconds of unrecorded load before measuring a server), default 2. */
export const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 2);
