import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
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
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const request = client.request(
      url,
      {
        method: "POST",
        headers: { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body), "user-agent": "order-service-webhooks/1" },
        lookup: guardedLookup(options.allowPrivate),
        agent: false,
      },
      (response) => {
        // The body is read (and dropped) so the answer is complete within the timeout.
        response.on("data", () => {});
        response.on("error", (error) => finish({ durationMs: elapsed(), error: error.message }));
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(response.headers["retry-after"]) : undefined;
          finish({ status, durationMs: elapsed(), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
        });
      },
    );
    const timer = setTimeout(() => {
      finish({ durationMs: elapsed(), error: `no complete answer within ${options.timeoutMs} ms` });
      request.destroy();
    }, options.timeoutMs);
    request.on("error", (error) =>
      finish({
        durationMs: elapsed(),
        error: error instanceof BlockedAddressError ? error.message : `${(error as NodeJS.ErrnoException).code ?? "error"}: ${error.message}`,
      }),
    );
    request.end(body);
  });
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now (at most a day); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) * 1000 : Date.parse(value) - Date.now();
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}
