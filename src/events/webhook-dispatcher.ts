import { setImmediate as nextTurn } from "node:timers/promises";
import type { FastifyBaseLogger } from "fastify";
import { batchedWrites } from "./batched-writes.js";
import type { ClaimedDelivery, DeliveredAttempt, DeliveriesRepository } from "./deliveries-repository.js";
import { addDeliveryTaker, onDeliveriesQueued } from "./deliveries-queued.js";
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
/**
 * Deliveries taken at insert waiting for an answer, per slot of `concurrency`, before a writing
 * transaction writes its deliveries for claiming instead. Taking is what keeps a delivery cheap (a
 * claim costs the database several times the insert); the bound only stops a slow endpoint from
 * gathering an unbounded number of open requests in one process.
 */
const TAKEN_PER_SLOT = 4;
/**
 * How long after a transaction handed deliveries over this process asks whether it committed
 * (one statement for every transaction waiting), and asks again while it is still in progress,
 * unless the transaction said so itself meanwhile (transactionWithEvents, the normal case). The
 * question is for the rest: a transaction that rolled back (nothing to send), or whose COMMIT got
 * no answer (rare: its deliveries go a second or two late), so it need not come soon.
 */
const COMMIT_CHECK_MS = 1_000;

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
 *
 * In the normal case there is no claim at all: a transaction of this process writes its
 * deliveries already leased to this dispatcher (recordEvent) and hands them over; they are sent
 * once that transaction has committed (it says so, or the database does when asked), and never if
 * it rolled back. If this process dies first, they are claimed by another once their lease has passed.
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
  private stopTaking: (() => void) | undefined;
  /** Deliveries handed over by transactions (by id) whose commit is not confirmed yet, and since when. */
  private readonly awaitingCommit = new Map<string, { deliveries: ClaimedDelivery[]; since: number }>();
  /**
   * Deliveries taken at insert waiting for their endpoint's answer. (Those still waiting for their
   * commit are not counted: there are at most as many as transactions in flight times endpoints.)
   */
  private takenSending = 0;
  private commitCheck: NodeJS.Timeout | undefined;

  private readonly options: DispatcherOptions;

  constructor(options: DispatcherOptions) {
    this.options = options;
    this.recordDelivered = batchedWrites((attempts) => options.deliveries.delivered(attempts));
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.takeAtInsert();
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
    this.stopTaking?.();
    clearTimeout(this.settling);
    clearTimeout(this.commitCheck);
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
      this.send(claimed, "claimed");
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

  /**
   * Sends each delivery. A finished claimed attempt frees a slot for the claim loop; one taken
   * at insert frees one for taking (and leaves nothing behind to claim).
   */
  private send(deliveries: readonly ClaimedDelivery[], how: "claimed" | "taken"): void {
    // The deliveries of one event to several endpoints share its body (each is signed with its own secret).
    const bodies = new Map<string, string>();
    for (const delivery of deliveries) {
      let body = bodies.get(delivery.eventId);
      if (body === undefined) {
        body = `{"type":${JSON.stringify(delivery.type)},"timestamp":"${delivery.occurredAt.toISOString()}","data":${delivery.data}}`;
        bodies.set(delivery.eventId, body);
      }
      const sent = how === "taken" ? () => this.takenSending-- : undefined;
      const attempt: Promise<void> = this.attempt(delivery, body, sent).finally(() => {
        this.inFlight.delete(attempt);
        if (how === "claimed") this.nudge();
      });
      this.inFlight.add(attempt);
    }
  }

  /** Offers to take this process's deliveries at insert (on a database it cannot identify, it only claims). */
  private async takeAtInsert(): Promise<void> {
    let database: string;
    try {
      database = await this.options.deliveries.databaseIdentity();
    } catch (err) {
      this.options.log.warn({ err, component: "webhooks" }, "webhook deliveries will only be claimed: the database could not be identified");
      return;
    }
    if (!this.running) return;
    const { concurrency } = this.options;
    this.stopTaking = addDeliveryTaker({
      database,
      leaseMs: this.leaseMs(),
      // Its own count only: claimed attempts filling every slot must not keep it from taking.
      hasRoom: () => this.running && this.takenSending < TAKEN_PER_SLOT * concurrency,
      take: (xid, deliveries) => {
        const waiting = this.awaitingCommit.get(xid);
        if (waiting) waiting.deliveries.push(...deliveries);
        else this.awaitingCommit.set(xid, { deliveries, since: performance.now() });
        this.commitCheck ??= setTimeout(() => void this.sendCommitted(), COMMIT_CHECK_MS);
      },
      committed: (xid) => {
        const waiting = this.awaitingCommit.get(xid);
        if (waiting === undefined) return; // asked and settled already
        this.awaitingCommit.delete(xid);
        this.sendTaken(waiting.deliveries);
      },
    });
  }

  private sendTaken(deliveries: ClaimedDelivery[]): void {
    if (!this.running) return;
    this.takenSending += deliveries.length;
    this.send(deliveries, "taken");
  }

  /**
   * Asks the database about the transactions that handed deliveries over and have not said they
   * committed: sends the deliveries of those that did; forgets those of transactions that rolled
   * back (their rows are gone) or whose state is unknown, and those waiting so long that their
   * lease might pass before an attempt ends (claimed later instead).
   */
  private async sendCommitted(): Promise<void> {
    // Only those that had time to say it themselves.
    const askedFrom = performance.now() - COMMIT_CHECK_MS;
    const xids = [...this.awaitingCommit].filter(([, waiting]) => waiting.since <= askedFrom).map(([xid]) => xid);
    let statuses: Map<string, string> | undefined;
    if (xids.length > 0) {
      try {
        statuses = await this.options.deliveries.transactionStatuses(xids);
      } catch (err) {
        this.options.log.warn({ err, component: "webhooks" }, "asking whether transactions committed failed; trying again");
      }
    }
    const latest = performance.now() - this.options.timeoutMs;
    for (const xid of xids) {
      const waiting = this.awaitingCommit.get(xid);
      if (waiting === undefined) continue; // it said it committed while the database was asked
      const status = statuses === undefined ? "in progress" : statuses.get(xid);
      if (status === "in progress" && waiting.since > latest && this.running) continue;
      this.awaitingCommit.delete(xid);
      if (status === "committed") this.sendTaken(waiting.deliveries);
    }
    this.commitCheck = this.awaitingCommit.size > 0 && this.running ? setTimeout(() => void this.sendCommitted(), COMMIT_CHECK_MS) : undefined;
  }

  /** Long enough for an attempt to time out and be recorded; after it, another process may try again. */
  private leaseMs(): number {
    return 2 * this.options.timeoutMs + 1_000;
  }

  /** `sent`: called once the endpoint answered (or did not), before the outcome is recorded. */
  private async attempt(delivery: ClaimedDelivery, body: string, sent?: () => void): Promise<void> {
    const { deliveries, schedule, log } = this.options;
    const headers = signedHeaders(delivery.eventId, body, {
      secret: delivery.secret,
      previous: delivery.previousSecret,
      previousExpiresAt: delivery.previousSecretExpiresAt,
    });
    const result = await sendWebhook(delivery.url, headers, body, { timeoutMs: this.options.timeoutMs, allowPrivate: this.options.allowPrivate });
    sent?.();
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
