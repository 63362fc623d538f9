// A few calls to the service's API with fetch (setup, checks, sequential measurements).
import { randomBytes } from "node:crypto";
import { ADMIN } from "../../support/admin.js";

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  /** Raw body text. */
  text: string;
  ms: number;
}

export async function call<T = any>(baseUrl: string, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const started = performance.now();
  const response = await fetch(baseUrl + path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, body, text, ms };
}

/** Calls and insists on the expected status. */
export async function expect<T = any>(status: number, baseUrl: string, method: string, path: string, options?: { token?: string; body?: unknown }): Promise<T> {
  const response = await call<T>(baseUrl, method, path, options);
  if (response.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${response.status}: ${response.text.slice(0, 300)}`);
  return response.body;
}

export async function login(baseUrl: string, name: string, password: string): Promise<string> {
  return (await expect<{ access: string }>(200, baseUrl, "POST", "/api/token/", { body: { name, password } })).access;
}

export const adminToken = (baseUrl: string) => login(baseUrl, ADMIN.name, ADMIN.password);

export interface BenchUser {
  name: string;
  password: string;
  token: string;
}

/** Registers `count` users and logs each in (a few at a time: password hashing is slow). */
export async function registerUsers(baseUrl: string, count: number, prefix = "bench"): Promise<BenchUser[]> {
  const run = randomBytes(3).toString("hex");
  const users: BenchUser[] = [];
  for (let start = 0; start < count; start += 4) {
    const batch = Array.from({ length: Math.min(4, count - start) }, async (_, i) => {
      const name = `${prefix}-${run}-${start + i}`;
      const password = `Pw-${randomBytes(9).toString("base64url")}`;
      await expect(201, baseUrl, "POST", "/api/register/", { body: { name, password } });
      return { name, password, token: await login(baseUrl, name, password) };
    });
    users.push(...(await Promise.all(batch)));
  }
  return users;
}

/** Reads one gauge/counter from the Prometheus text of /metrics. */
export async function metric(baseUrl: string, name: string): Promise<number | undefined> {
  const { text } = await call(baseUrl, "GET", "/metrics");
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}
