import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { LRUCache } from "lru-cache";
import { BlockedAddressError, guardedLookup, isPublicAddress } from "./webhook-address.js";

export interface AttemptResult {
  /** The endpoint's status code, when it answered. */
  status?: number;
  durationMs: number;
  /** Why there is no status (timeout, refused connection, blocked address). */
  error?: string;
  /** Retry-After of a 429 or 503, in milliseconds. */
  retryAfterMs?: number;
}

export interface SenderOptions {
  timeoutMs: number;
  allowPrivate: boolean;
}

const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * An idle kept-alive connection is closed after this long: before a receiver's own idle timeout
 * (Node's default is 5 s), so that a request is rarely sent on a connection being closed.
 */
const IDLE_CONNECTION_MS = 2_000;
/** Origins whose agents (and idle connections) are kept; the least recently used beyond are closed. */
const MAX_AGENTS = 1_000;

/**
 * One keep-alive agent per origin and address policy: the connections to an endpoint are reused
 * from one delivery to the next instead of each delivery opening (and the receiver accepting) a
 * TCP and TLS connection of its own. Each new connection resolves the name again and checks the
 * address (guardedLookup); a kept connection stays with the address that was checked when it opened.
 */
const agents = new LRUCache<string, http.Agent>({ max: MAX_AGENTS, dispose: (agent) => agent.destroy() });

function agentFor(url: URL, allowPrivate: boolean): http.Agent {
  const key = `${url.origin} ${allowPrivate}`;
  let agent = agents.get(key);
  if (!agent) {
    const options = { keepAlive: true, timeout: IDLE_CONNECTION_MS, lookup: guardedLookup(allowPrivate) };
    agent = url.protocol === "https:" ? new https.Agent(options) : new http.Agent(options);
    agents.set(key, agent);
  }
  return agent;
}

/**
 * One POST of a signed webhook. Redirects are not followed (a 3xx is a failed attempt): the
 * endpoint registered is the one that receives, and a redirect cannot lead a request to an
 * address that was not checked. The whole exchange, answer included, must end within the timeout.
 */
export function sendWebhook(target: string, headers: Record<string, string>, body: string, options: SenderOptions): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const url = new URL(target);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  // A literal address never reaches `lookup`: it is checked here.
  if (!options.allowPrivate && isIP(host) && !isPublicAddress(host)) {
    return Promise.resolve({ durationMs: 0, error: `${host} is not a public address` });
  }
  const client = url.protocol === "https:" ? https : http;
  const agent = agentFor(url, options.allowPrivate);
  const requestHeaders = {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "user-agent": "order-service-webhooks/1",
  };
  return new Promise((resolve) => {
    let settled = false;
    let request: http.ClientRequest;
    const finish = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => {
      finish({ durationMs: elapsed(), error: `no complete answer within ${options.timeoutMs} ms` });
      request.destroy();
    }, options.timeoutMs);
    const send = (resent: boolean) => {
      // The resend gets a connection of its own: another kept one may be closing too.
      const connection = resent ? { agent: false, lookup: guardedLookup(options.allowPrivate) } : { agent };
      request = client.request(url, { method: "POST", headers: requestHeaders, ...connection }, (response) => {
        // The body is read (and dropped) so the answer is complete within the timeout.
        response.on("data", () => {});
        response.on("error", (error) => finish({ durationMs: elapsed(), error: error.message }));
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(response.headers["retry-after"]) : undefined;
          finish({ status, durationMs: elapsed(), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
        });
      });
      request.on("error", (error: NodeJS.ErrnoException) => {
        // A kept connection the receiver closed as this request went out: sent again, once, on a new one.
        if (!settled && !resent && request.reusedSocket && (error.code === "ECONNRESET" || error.code === "EPIPE")) return send(true);
        finish({ durationMs: elapsed(), error: error instanceof BlockedAddressError ? error.message : `${error.code ?? "error"}: ${error.message}` });
      });
      request.end(body);
    };
    send(false);
  });
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now (at most a day); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) * 1000 : Date.parse(value) - Date.now();
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}
