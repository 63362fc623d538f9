import { setImmediate as nextTurn } from "node:timers/promises";
import type { FastifyBaseLogger } from "fastify";
import { batchedWrites } from "./batched-writes.js";
import type { ClaimedDelivery, DeliveredAttempt, DeliveriesRepository } from "./deliveries-repository.js";
import { onDeliveriesQueued } from "./deliveries-queued.js";
import { nextDelayMs } from "./webhook-schedule.js";
import { sendWebhook } from "./webhook-sender.js";
import { signedHeaders } from "./webhook-signing.js";

/** How long closing waits for attempts in flight (within the server's shutdown grace). */
const STOP_GRACE_MS = 2_000;
/**
 * How long after this process queued a delivery it looks for it: the writing transaction commits
 * in the meantime. Later than that it is found by the next look (another write's, or the poll).
 */
const COMMIT_SETTLE_MS = 10;

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
 * Sends due webhook deliveries: claims as many as it has room for in one statement, sends each,
 * records the outcomes (the deliveries among them in one statement per batch), and claims again
 * once outcomes are recorded, soon after this process queued deliveries, or after `pollMs`. Every
 * process runs one; the database decides who sends what (DeliveriesRepository.claim).
 */
export class WebhookDispatcher {
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly recordDelivered: (attempt: DeliveredAttempt) => Promise<void>;
  private stopListening: (() => void) | undefined;
  private settling: NodeJS.Timeout | undefined;
  /** Set when a nudge came while the loop was not waiting (it was claiming). */
  private nudged = false;

  private readonly options: DispatcherOptions;

  constructor(options: DispatcherOptions) {
    this.options = options;
    this.recordDelivered = batchedWrites((attempts) => options.deliveries.delivered(attempts));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopListening = onDeliveriesQueued(() => {
      this.settling ??= setTimeout(() => {
        this.settling = undefined;
        this.nudge();
      }, COMMIT_SETTLE_MS);
    });
    this.loop = this.run();
  }

  /**
   * Stops claiming and waits a little for the attempts in flight to be recorded. One that takes
   * longer (a slow endpoint) is left to its lease: another process, or this one restarted, sends
   * it again once the lease has passed.
   */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.running = false;
    this.stopListening?.();
    clearTimeout(this.settling);
    this.wake?.();
    await this.loop;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }

  /** Looks for due deliveries now instead of at the next poll (e.g. after a retry was asked for). */
  nudge(): void {
    if (this.wake) this.wake();
    else this.nudged = true;
  }

  private async run(): Promise<void> {
    const { concurrency, pollMs } = this.options;
    while (this.running) {
      this.nudged = false;
      const room = concurrency - this.inFlight.size;
      let claimed: ClaimedDelivery[] = [];
      if (room > 0) {
        try {
          claimed = await this.options.deliveries.claim(room, this.leaseMs());
        } catch (err) {
          this.options.log.warn({ err, component: "webhooks" }, "claiming webhook deliveries failed; trying again");
        }
      }
      // The deliveries of one event to several endpoints share its body (each is signed with its own secret).
      const bodies = new Map<string, string>();
      for (const delivery of claimed) {
        let body = bodies.get(delivery.eventId);
        if (body === undefined) {
          body = JSON.stringify({ type: delivery.type, timestamp: delivery.occurredAt.toISOString(), data: delivery.data });
          bodies.set(delivery.eventId, body);
        }
        const attempt: Promise<void> = this.attempt(delivery, body).finally(() => {
          this.inFlight.delete(attempt);
          this.nudge();
        });
        this.inFlight.add(attempt);
      }
      // Claim again at once when there is room and more may be due (every slot asked for was
      // filled, or a slot was freed or deliveries queued while claiming); else wait for that or the poll.
      const more = (claimed.length > 0 && claimed.length === room) || this.nudged;
      if (!(more && this.inFlight.size < concurrency)) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
      // Attempts recorded together free their slots together: one claim for all of them.
      await nextTurn();
    }
  }

  /** Long enough for an attempt to time out and be recorded; after it, another process may try again. */
  private leaseMs(): number {
    return 2 * this.options.timeoutMs + 1_000;
  }

  private async attempt(delivery: ClaimedDelivery, body: string): Promise<void> {
    const { deliveries, schedule, log } = this.options;
    const headers = signedHeaders(delivery.eventId, body, {
      secret: delivery.secret,
      previous: delivery.previousSecret,
      previousExpiresAt: delivery.previousSecretExpiresAt,
    });
    const result = await sendWebhook(delivery.url, headers, body, { timeoutMs: this.options.timeoutMs, allowPrivate: this.options.allowPrivate });
    const seconds = result.durationMs / 1000;
    try {
      if (result.status !== undefined && result.status >= 200 && result.status < 300) {
        await this.recordDelivered({ id: delivery.id, attempt: delivery.attempt, status: result.status, durationMs: result.durationMs });
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
