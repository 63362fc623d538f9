import { isIP } from "node:net";
import { Agent, Client, type Dispatcher } from "undici";
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
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * An idle kept-alive connection is closed after this long: before a receiver's own idle timeout
 * (Node's default is 5 s), so that a request is rarely sent on a connection being closed.
 */
const IDLE_CONNECTION_MS = 2_000;

/** Errors of a connection the receiver closed as the request went out (sent again once, on a new connection). */
const CLOSED_CONNECTION = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]);

/**
 * undici rather than node:http: the same keep-alive connections per origin for about half the CPU
 * per request, which is most of what a delivery costs this process. One dispatcher per address
 * policy; it keeps the connections of each origin (an origin's go when they have all closed). Each
 * new connection resolves the name again and checks the address (guardedLookup); a kept connection
 * stays with the address that was checked when it opened.
 */
const dispatchers = new Map<boolean, Agent>();

function dispatcherFor(allowPrivate: boolean): Agent {
  let dispatcher = dispatchers.get(allowPrivate);
  if (!dispatcher) {
    dispatcher = new Agent({
      keepAliveTimeout: IDLE_CONNECTION_MS,
      keepAliveMaxTimeout: IDLE_CONNECTION_MS,
      connect: { lookup: guardedLookup(allowPrivate) },
    });
    dispatchers.set(allowPrivate, dispatcher);
  }
  return dispatcher;
}

/**
 * One POST of a signed webhook. Redirects are not followed (a 3xx is a failed attempt): the
 * endpoint registered is the one that receives, and a redirect cannot lead a request to an
 * address that was not checked. The whole exchange, answer included, must end within the timeout.
 */
export async function sendWebhook(target: string, headers: Record<string, string>, body: string | Buffer, options: SenderOptions): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const url = new URL(target);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  // A literal address never reaches `lookup`: it is checked here.
  if (!options.allowPrivate && isIP(host) && !isPublicAddress(host)) {
    return { durationMs: 0, error: `${host} is not a public address` };
  }
  // A timer cleared when the exchange ends (AbortSignal.timeout kept each delivery's signal and
  // timer alive for the whole timeout), and like it, one that does not keep the process running.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), options.timeoutMs).unref();
  const { signal } = deadline;
  const request: Dispatcher.RequestOptions = {
    origin: url.origin,
    path: `${url.pathname}${url.search}`,
    method: "POST",
    headers: { ...headers, "content-type": "application/json", "user-agent": "order-service-webhooks/1" },
    body,
    signal,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  };
  try {
    return await exchange(dispatcherFor(options.allowPrivate), request, elapsed);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined || !CLOSED_CONNECTION.has(code) || signal.aborted) return failure(error, options, elapsed);
    // A kept connection the receiver closed as this request went out: sent again, once, on a connection of its own.
    const fresh = new Client(url.origin, { connect: { lookup: guardedLookup(options.allowPrivate) } });
    try {
      return await exchange(fresh, request, elapsed);
    } catch (again) {
      return failure(again, options, elapsed);
    } finally {
      void fresh.close().catch(() => {});
    }
  } finally {
    clearTimeout(timer);
  }
}

async function exchange(dispatcher: Dispatcher, request: Dispatcher.RequestOptions, elapsed: () => number): Promise<AttemptResult> {
  const response = await dispatcher.request(request);
  // The body is read (and dropped) so the answer is complete within the timeout; past this much
  // of it the connection is closed instead.
  await response.body.dump({ limit: MAX_ANSWER_BYTES, signal: request.signal as AbortSignal });
  const status = response.statusCode;
  const retryAfter = response.headers["retry-after"];
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter) : undefined;
  return { status, durationMs: elapsed(), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

function failure(error: unknown, options: SenderOptions, elapsed: () => number): AttemptResult {
  const durationMs = elapsed();
  const { code, name, message, cause } = error as NodeJS.ErrnoException;
  if (name === "TimeoutError" || name === "AbortError" || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
    return { durationMs, error: `no complete answer within ${options.timeoutMs} ms` };
  }
  const blocked = error instanceof BlockedAddressError ? error : cause instanceof BlockedAddressError ? cause : undefined;
  if (blocked) return { durationMs, error: blocked.message };
  return { durationMs, error: `${code ?? "error"}: ${message}` };
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now (at most a day); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) * 1000 : Date.parse(value) - Date.now();
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}
