import type { FastifyBaseLogger } from "fastify";
import type { ClaimedDelivery, DeliveriesRepository } from "./deliveries-repository.js";
import { nextDelayMs } from "./webhook-schedule.js";
import { sendWebhook } from "./webhook-sender.js";
import { signedHeaders } from "./webhook-signing.js";

/** How long closing waits for attempts in flight (within the server's shutdown grace). */
const STOP_GRACE_MS = 2_000;

export type AttemptOutcome = "delivered" | "retrying" | "failed";

export interface DispatcherOptions {
  deliveries: DeliveriesRepository;
  log: FastifyBaseLogger;
  /** Attempts in flight at once in this process. */
  concurrency: number;
  pollMs: number;
  timeoutMs: number;
  schedule: readonly number[];
  disableAfterMs: number;
  allowPrivate: boolean;
  onAttempt?(outcome: AttemptOutcome, seconds: number): void;
  onDisabled?(reason: string): void;
}

/**
 * Sends due webhook deliveries: claims as many as it has room for, sends each, records the
 * outcome, and claims again at once while there is work (else after `pollMs`). Every process
 * runs one; the database decides who sends what (DeliveriesRepository.claim).
 */
export class WebhookDispatcher {
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: DispatcherOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stops claiming and waits a little for the attempts in flight to be recorded. One that takes
   * longer (a slow endpoint) is left to its lease: another process, or this one restarted, sends
   * it again once the lease has passed.
   */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }

  /** Looks for due deliveries now instead of at the next poll (e.g. after a retry was asked for). */
  nudge(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    const { concurrency, pollMs } = this.options;
    while (this.running) {
      const room = concurrency - this.inFlight.size;
      let claimed: ClaimedDelivery[] = [];
      if (room > 0) {
        try {
          claimed = await this.options.deliveries.claim(room, this.leaseMs());
        } catch (err) {
          this.options.log.warn({ err, component: "webhooks" }, "claiming webhook deliveries failed; trying again");
        }
      }
      for (const delivery of claimed) {
        const attempt: Promise<void> = this.attempt(delivery).finally(() => {
          this.inFlight.delete(attempt);
          this.wake?.();
        });
        this.inFlight.add(attempt);
      }
      // More may be due at once when every slot was filled; otherwise wait for the poll or a freed slot.
      if (claimed.length > 0 && claimed.length === room && this.inFlight.size < concurrency) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Long enough for an attempt to time out and be recorded; after it, another process may try again. */
  private leaseMs(): number {
    return 2 * this.options.timeoutMs + 1_000;
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const { deliveries, schedule, log } = this.options;
    const body = JSON.stringify({ type: delivery.type, timestamp: delivery.occurredAt.toISOString(), data: delivery.data });
    const headers = signedHeaders(delivery.eventId, body, {
      secret: delivery.secret,
      previous: delivery.previousSecret,
      previousExpiresAt: delivery.previousSecretExpiresAt,
    });
    const result = await sendWebhook(delivery.url, headers, body, { timeoutMs: this.options.timeoutMs, allowPrivate: this.options.allowPrivate });
    const seconds = result.durationMs / 1000;
    try {
      if (result.status !== undefined && result.status >= 200 && result.status < 300) {
        await deliveries.delivered(delivery, result.status, result.durationMs);
        this.options.onAttempt?.("delivered", seconds);
        return;
      }
      const gone = result.status === 410;
      const delayMs = gone ? null : nextDelayMs(schedule, delivery.attempt, result.retryAfterMs);
      const endpoint = await deliveries.failed(delivery, { ...result, delayMs, gone, disableAfterMs: this.options.disableAfterMs });
      this.options.onAttempt?.(delayMs === null ? "failed" : "retrying", seconds);
      if (endpoint && !endpoint.enabled && endpoint.disabledReason && (gone || endpoint.disabledReason === "failing")) {
        log.warn({ component: "webhooks", endpoint: delivery.endpointId, reason: endpoint.disabledReason }, "webhook endpoint disabled");
        this.options.onDisabled?.(endpoint.disabledReason);
      }
    } catch (err) {
      // The attempt stays leased and is tried again once the lease has passed.
      log.warn({ err, component: "webhooks", delivery: delivery.id }, "recording a webhook attempt failed");
    }
  }
}
