// A plain HTTP client over node:http for multi-process tests, from a chosen local address (any of
// 127.0.0.0/8), so that tests can be several clients behind nginx. A connection per request: a
// kept-alive one can be closed by the server (after its 5 s idle timeout) just as it is reused.
import { Agent, request } from "node:http";
import type { Answer } from "./contract.js";

export interface Call {
  method: string;
  path: string;
  body?: unknown;
  /** A raw body sent as is (JSON content type). */
  rawBody?: string;
  headers?: Record<string, string>;
  token?: string;
}

export interface HttpAnswer extends Answer {
  headers: Record<string, string | string[] | undefined>;
  json<T = any>(): T;
}

const agents = new Map<string, Agent>();
function agentFor(localAddress: string): Agent {
  let agent = agents.get(localAddress);
  if (!agent) {
    agent = new Agent({ keepAlive: false, localAddress });
    agents.set(localAddress, agent);
  }
  return agent;
}

export function send(baseUrl: string, call: Call, options: { localAddress?: string; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  const url = new URL(call.path, baseUrl);
  const payload = call.rawBody ?? (call.body === undefined ? undefined : JSON.stringify(call.body));
  const headers: Record<string, string> = { ...call.headers };
  if (payload !== undefined) headers["content-type"] = "application/json";
  if (call.token) headers.authorization = `Bearer ${call.token}`;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: call.method, headers, agent: agentFor(options.localAddress ?? "127.0.0.1"), timeout: options.timeoutMs ?? 20_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString();
          resolve({ statusCode: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body) });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${call.method} ${url} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}
