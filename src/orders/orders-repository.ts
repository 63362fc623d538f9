import { createHash } from "node:crypto";
import { stringify as canonicalJson } from "safe-stable-stringify";
import { setTimeout as sleep } from "node:timers/promises";
import { LRUCache } from "lru-cache";
import { Prisma, type PrismaClient } from "../../generated/prisma/client.js";
import { isConnectionLost, isDatabaseUnavailable, isForeignKeyViolation, isRefusedByServer, isTransientConflict } from "../infra/db/errors.js";
import { runFailoverSafe } from "../infra/db/failover-retry.js";
import { userGone } from "../accounts/index.js";
import { duplicateProducts, idempotencyKeyReused, insufficientStock, noRoomToRestock, orderOutcomeUnknown, unknownProducts } from "../errors/app-error.js";
import { SPEC_LIMITS } from "../infra/spec-limits.js";
import { CANCEL_ORDER, CLAIM_KEY, DELETE_EXPIRED_KEY, FULFIL_ORDER, IDEMPOTENCY_WINDOW, TAKE_STOCK, WRITE_ORDER } from "./statements.js";
import { countOrders, orderKeysetPage, type OrderFilter } from "./list-statements.js";
import { filterSignature, orderKeyOf, type OrderCursor } from "./cursor.js";
import { pendingEvent, recordEvent, transactionWithEvents } from "../events/index.js";
import type { Wire } from "../infra/http/operation-types.js";

export interface OrderLine {
  id: number;
  quantity: number;
}

const orderWithItems = { items: { orderBy: { id: "asc" } } } as const;
/** An order with its lines, in line order. */
export type OrderRecord = Prisma.OrderGetPayload<{ include: typeof orderWithItems }>;

export type PlacedOrder =
  | { replayed: false; order: OrderRecord; unitsSold: number }
  /** An Idempotency-Key matched an earlier order: nothing new was written; `answer` is what was answered then. */
  | { replayed: true; answer: unknown };

/** What a cancel found: the order cancelled now, an order cancelled or fulfilled before, or none the caller may see. */
export type CancelOutcome =
  | { outcome: "cancelled"; order: OrderRecord /** Units put back (lines of deleted products are not restocked). */; unitsReturned: number }
  | { outcome: "already-cancelled"; order: OrderRecord }
  | { outcome: "already-fulfilled"; order: OrderRecord }
  | { outcome: "not-found" };

/** What a fulfilment found: the order fulfilled now, an order fulfilled or cancelled before, or none. */
export type FulfilOutcome =
  | { outcome: "fulfilled"; order: OrderRecord }
  | { outcome: "already-fulfilled"; order: OrderRecord }
  | { outcome: "already-cancelled"; order: OrderRecord }
  | { outcome: "not-found" };

/** A back-office page, with the cursors of the pages next to it. */
export interface OrderCursorPage {
  count: number;
  rows: OrderRecord[];
  next: OrderCursor | null;
  previous: OrderCursor | null;
}

interface StockRow {
  id: number;
  name: string;
  price: string;
  stock: number;
  taken: number;
  order_id: number | null;
  item_ids: number[] | null;
  created_at: Date | null;
}

/** What CANCEL_ORDER answers for an order it found cancellable. */
interface CancelRow {
  id: number;
  cancelled: boolean;
  units_returned: number;
  /** The products without room for their line (then nothing changed), in id order. */
  no_room: { id: number; name: string; stock: number; quantity: number }[];
}

export interface Idempotency {
  key: string;
  requestHash: string;
  /** What a replay of this key answers (stored with the key, in the order's transaction). */
  answerFor(order: OrderRecord): unknown;
}

const MAX_ATTEMPTS = 4;
/** The foreign keys from an order's rows to its user (the migrations' names). */
const USER_REFERENCES = ["orders_user_id_fkey", "idempotency_keys_user_id_fkey"];

/**
 * How long a back-office filter's `count` is reused. Counting is what a back-office page costs at
 * 1,000,000 orders (0.1–0.3 s, against well under a millisecond for the keyset page itself: see
 * `npm run bench:order-list`). Every order placed, cancelled or fulfilled through this process
 * invalidates the counts at once; changes through other replicas show within this delay.
 * Concurrent requests for one filter share a single count.
 */
const COUNT_CACHE_TTL_MS = 5_000;
/**
 * How long an order waits for its COMMIT's verdict before looking the order up: above
 * statement_timeout (src/infra/db/client.ts), so a healthy database always answers first.
 */
const COMMIT_ANSWER_WAIT_MS = 6_000;
/** How long that look-up may take: a database that does not answer it leaves the outcome unknown. */
const LOOKUP_WAIT_MS = 1_500;
const NO_VERDICT = Symbol("no verdict");

/** A conflict this module detects itself and resolves by running the transaction again. */
class RetryableConflict extends Error {}

/**
 * What an Idempotency-Key is bound to: the body as canonical JSON (keys sorted), so the same
 * order sent with its fields in another order is the same request. Bodies written in the usual
 * order (`{"id","quantity"}`) hash as before.
 */
export function requestHash(body: unknown): string {
  return createHash("sha256")
    .update(canonicalJson(body) ?? "")
    .digest("hex");
}

/** An order as the API describes it: what its events carry. */
export type OrderWire = (order: OrderRecord) => Wire<"Order">;

export class OrdersRepository {
  private readonly counts: LRUCache<string, number, OrderFilter>;
  /** Part of every count's key; a write moves it on, so no count started before a write is served after it. */
  private generation = 0;

  private readonly db: PrismaClient;
  private readonly wire: OrderWire;

  constructor(db: PrismaClient, wire: OrderWire) {
    this.db = db;
    this.wire = wire;
    this.counts = new LRUCache<string, number, OrderFilter>({
      max: 1_000,
      ttl: COUNT_CACHE_TTL_MS,
      fetchMethod: async (_key, _stale, { context }) => {
        const query = countOrders(context);
        const [row] = await this.db.$queryRawUnsafe<{ count: number }[]>(query.text, ...query.values);
        return row!.count;
      },
    });
  }

  /** How many orders match the back-office filter (reused for a few seconds, see COUNT_CACHE_TTL_MS). */
  private async count(filter: OrderFilter): Promise<number> {
    // Keyed by the filter as its cursors name it: the statement is built only when the count is not cached.
    return (await this.counts.fetch(`${this.generation}:${filterSignature(filter)}`, { context: filter }))!;
  }

  /**
   * Takes the stock of every line or of none, in one transaction of two statements while the
   * product rows are locked (order-sql.ts: lock in id order, check and take the stock, draw the
   * order's ids; then write the order, its lines and the idempotent answer), so a hot product's
   * row is held for two round trips and the commit. Transient conflicts are retried.
   */
  async place(userId: string, lines: OrderLine[], idempotency?: Idempotency): Promise<PlacedOrder> {
    // How long to wait for the transaction to begin is the client's setting (DatabaseWaits);
    // the timeout is above the statement and lock timeouts (src/infra/db/client.ts), so those fail first.
    // A connection lost before COMMIT runs the order again; a COMMIT cut by a lost connection is
    // decided by looking the order up (src/infra/db/failover-retry.ts); one with no verdict, by placeOnce.
    try {
      return await runFailoverSafe({
        run: (body) => withRetries(() => this.placeOnce(userId, lines, idempotency, body)),
        verify: async (placed) => placed.replayed || (await this.db.order.count({ where: { id: placed.order.id } })) === 1,
        outcomeUnknown: (placed, cause) => (placed.replayed ? undefined : orderOutcomeUnknown(placed.order.id, cause)),
      });
    } catch (error) {
      // The order's (or its key's) user_id points nowhere: the user was deleted since its token was
      // checked. Any other reference refused is ours to answer for (a 5xx), not the caller's token.
      throw isForeignKeyViolation(error, USER_REFERENCES) ? userGone() : error;
    } finally {
      this.generation++;
    }
  }

  /**
   * One attempt, whose answer is never wrong about what was written. Prisma's transaction timer
   * cannot fire during COMMIT (it queues behind it) and the connection gives COMMIT no read
   * timeout (CommitAwaitingClient), so a COMMIT ends only with the server's verdict. If that
   * verdict is an error, or does not come within COMMIT_ANSWER_WAIT_MS, the order (whose id was
   * drawn before COMMIT) is looked up: found, it was placed; else, unless the server refused the
   * COMMIT, the answer says the outcome is unknown and how to learn it, never "try again".
   */
  private async placeOnce(
    userId: string,
    lines: OrderLine[],
    idempotency: Idempotency | undefined,
    body: <R>(inner: () => Promise<R>) => Promise<R>,
  ): Promise<PlacedOrder> {
    let written: (PlacedOrder & { replayed: false }) | undefined;
    let commitSent!: () => void;
    const committing = new Promise<void>((resolve) => {
      commitSent = resolve;
    });
    const transaction = transactionWithEvents(
      this.db,
      async (tx) => {
        const placed = await body(() => this.placeWithin(tx, userId, lines, idempotency));
        if (!placed.replayed) written = placed;
        commitSent();
        return placed;
      },
      { timeout: 15_000 },
    );
    // A plain timer, cleared once the transaction ends: aborting a timers/promises sleep instead
    // built a DOMException and an AbortError, stack traces included, at every order.
    let verdictTimer: NodeJS.Timeout | undefined;
    let ended = false;
    const unanswered = committing.then(
      () =>
        new Promise<typeof NO_VERDICT>((resolve) => {
          if (!ended) verdictTimer = setTimeout(resolve, COMMIT_ANSWER_WAIT_MS, NO_VERDICT);
        }),
    );
    try {
      const outcome = await Promise.race([transaction, unanswered]);
      if (outcome !== NO_VERDICT) return outcome;
      transaction.catch(() => {}); // the COMMIT goes on; its outcome is looked up below
      return await this.confirmWritten(written!, undefined);
    } catch (error) {
      // Nothing sent for COMMIT, or the connection lost under it: runFailoverSafe decides.
      if (!written || isConnectionLost(error)) throw error;
      return await this.confirmWritten(written, error);
    } finally {
      ended = true;
      clearTimeout(verdictTimer);
    }
  }

  /** After a COMMIT without a verdict (`error` undefined) or with an error: the order if it is there. */
  private async confirmWritten(placed: PlacedOrder & { replayed: false }, error: unknown): Promise<PlacedOrder> {
    if (error !== undefined && !isDatabaseUnavailable(error) && isRefusedByServer(error)) throw error;
    const lookup = this.db.order.findFirst({ where: { id: placed.order.id }, select: { id: true } });
    const found = await Promise.race([lookup, sleep(LOOKUP_WAIT_MS, NO_VERDICT)]).catch(() => NO_VERDICT);
    lookup.catch(() => {});
    if (found !== null && found !== NO_VERDICT) return placed;
    // Refused by the server (a serialization failure, say): nothing was committed.
    if (found === null && error !== undefined && isRefusedByServer(error)) throw error;
    throw orderOutcomeUnknown(placed.order.id);
  }

  private async placeWithin(tx: Prisma.TransactionClient, userId: string, lines: OrderLine[], idempotency?: Idempotency): Promise<PlacedOrder> {
    if (idempotency) {
      const earlier = await claimIdempotencyKey(tx, userId, idempotency);
      if (earlier) return { replayed: true, answer: earlier.answer };
    }

    // Ids ascending: the lock order (see order-sql.ts); quantities follow their ids.
    const byId = [...lines].sort((a, b) => a.id - b.id);
    const products = await tx.$queryRawUnsafe<StockRow[]>(
      TAKE_STOCK,
      byId.map((l) => l.id),
      byId.map((l) => l.quantity),
    );
    const found = new Map(products.map((p) => [p.id, p]));

    const unknown = lines.filter((line) => !found.has(line.id));
    if (unknown.length > 0) {
      throw unknownProducts(unknown.map((line) => ({ index: lines.indexOf(line), productId: line.id })));
    }
    const short = lines.filter((line) => found.get(line.id)!.stock < line.quantity);
    if (short.length > 0) {
      throw insufficientStock(
        short.map((line) => {
          const product = found.get(line.id)!;
          return { index: lines.indexOf(line), productId: line.id, name: product.name, requested: line.quantity, available: product.stock };
        }),
      );
    }
    // Every product exists and had enough, so the statement took them all and drew the ids.
    const drawn = products[0]!;
    if (drawn.taken !== lines.length || drawn.order_id === null || drawn.created_at === null || drawn.item_ids?.length !== lines.length) {
      throw new Error(`took stock of ${drawn.taken} of ${lines.length} products`);
    }
    const orderId = drawn.order_id;
    const itemIds = [...drawn.item_ids].sort((a, b) => a - b);
    const items = lines.map((line, index) => {
      const product = found.get(line.id)!;
      const unitPrice = new Prisma.Decimal(product.price);
      return {
        id: itemIds[index]!,
        orderId,
        productId: line.id,
        productName: product.name,
        unitPrice,
        quantity: line.quantity,
        lineTotal: unitPrice.mul(line.quantity),
      };
    });
    const order: OrderRecord = {
      id: orderId,
      userId,
      status: "created",
      total: items.reduce((sum, item) => sum.add(item.lineTotal), new Prisma.Decimal(0)),
      createdAt: drawn.created_at,
      updatedAt: drawn.created_at,
      cancelledAt: null,
      fulfilledAt: null,
      items,
    };
    const event = pendingEvent(tx, "order.created", this.wire(order));
    const [written] = await tx.$queryRawUnsafe<{ written: string | null }[]>(
      WRITE_ORDER,
      order.id,
      userId,
      order.total.toString(),
      order.createdAt,
      items.map((item) => item.id),
      items.map((item) => item.productId),
      items.map((item) => item.productName),
      items.map((item) => item.unitPrice.toString()),
      items.map((item) => item.quantity),
      items.map((item) => item.lineTotal.toString()),
      idempotency ? JSON.stringify(idempotency.answerFor(order)) : null,
      idempotency?.key ?? null,
      ...event.values,
    );
    event.written(written?.written ?? null);
    return { order, replayed: false, unitsSold: lines.reduce((sum, line) => sum + line.quantity, 0) };
  }

  /**
   * Cancels the order if it is still `created` (and, with `ownerId`, placed by that user; without,
   * any order: an admin) and puts its lines back in stock, once: of concurrent cancels of one
   * order exactly one finds it `created`.
   */
  async cancel(id: number, ownerId?: string): Promise<CancelOutcome> {
    // The cancel and its event in one transaction; the order is read back there for the event.
    const { cancelled, order } = await withRetries(() =>
      transactionWithEvents(
        this.db,
        async (tx) => {
          const [row] = await tx.$queryRawUnsafe<CancelRow[]>(CANCEL_ORDER, id, ownerId ?? null, SPEC_LIMITS.maxStock);
          const found = await tx.order.findFirst({ where: { id }, include: orderWithItems });
          if (row?.cancelled && found) await recordEvent(tx, "order.cancelled", this.wire(found));
          return { cancelled: row, order: found };
        },
        { timeout: 15_000 },
      ),
    ).finally(() => this.generation++);
    if (cancelled && !cancelled.cancelled) {
      // Putting a line back would overflow its product's stock: nothing was written, the order is still created.
      if (cancelled.no_room.length > 0) throw noRoomToRestock(id, cancelled.no_room, SPEC_LIMITS.maxStock);
      throw new Error(`order ${id} was cancellable but the cancel wrote nothing`);
    }
    if (!order || (ownerId !== undefined && order.userId !== ownerId)) return { outcome: "not-found" };
    if (cancelled) return { outcome: "cancelled", order, unitsReturned: cancelled.units_returned };
    return order.status === "fulfilled" ? { outcome: "already-fulfilled", order } : { outcome: "already-cancelled", order };
  }

  /**
   * Fulfils the order if it is still `created`, in one transaction: FULFIL_ORDER changes the row
   * under its row lock, so of a fulfil and a cancel (or two fulfils) of one order exactly one
   * finds it `created`; the other waits for that one's commit, then finds it final.
   */
  async fulfil(id: number): Promise<FulfilOutcome> {
    return withRetries(() => transactionWithEvents(this.db, (tx) => this.fulfilWithin(tx, id), { timeout: 15_000 })).finally(() => this.generation++);
  }

  private async fulfilWithin(tx: Prisma.TransactionClient, id: number): Promise<FulfilOutcome> {
    const fulfilled = await tx.$queryRawUnsafe<{ id: number }[]>(FULFIL_ORDER, id);
    const order = await tx.order.findFirst({ where: { id }, include: orderWithItems });
    if (!order) return { outcome: "not-found" };
    if (fulfilled.length === 1) {
      await recordEvent(tx, "order.fulfilled", this.wire(order));
      return { outcome: "fulfilled", order };
    }
    // Not created any more: a final state, committed by another transaction before this one's read.
    return order.status === "cancelled" ? { outcome: "already-cancelled", order } : { outcome: "already-fulfilled", order };
  }

  /**
   * A back-office page (newest first) and the cursors of the pages next to it. One row more than
   * the page is read to learn whether another page follows in the direction of travel; in the
   * other direction there is one whenever the page did not start at an end.
   */
  async cursorPage(filter: OrderFilter, start: OrderCursor | undefined, limit: number): Promise<OrderCursorPage> {
    const direction = start?.direction ?? "forward";
    const page = orderKeysetPage(filter, direction, start?.key, limit + 1);
    const [count, found] = await Promise.all([this.count(filter), limit === 0 ? [] : this.db.$queryRawUnsafe<{ id: number }[]>(page.text, ...page.values)]);
    if (limit === 0) return { count, rows: [], next: null, previous: null };
    const ids = found.slice(0, limit).map((row) => row.id);
    if (direction === "backward") ids.reverse();
    const byId = new Map((await this.db.order.findMany({ where: { id: { in: ids } }, include: orderWithItems })).map((order) => [order.id, order]));
    // An order deleted between the two reads (its customer's history is kept, so only by hand) is left out.
    const rows = ids.flatMap((id) => byId.get(id) ?? []);
    const more = found.length > limit;
    const cursor = (to: OrderCursor["direction"], row?: OrderRecord): OrderCursor | null => (row ? { filter, direction: to, key: orderKeyOf(row) } : null);
    const startedInside = start?.key !== undefined;
    const [first, last] = [rows[0], rows.at(-1)];
    if (direction === "backward") {
      return {
        count,
        rows,
        previous: more ? cursor("backward", first) : null,
        next: startedInside ? (cursor("forward", last) ?? { filter, direction: "forward", key: start.key }) : null,
      };
    }
    return {
      count,
      rows,
      next: more ? cursor("forward", last) : null,
      previous: startedInside ? (cursor("backward", first) ?? { filter, direction: "backward", key: start.key }) : null,
    };
  }

  async page(userId: string, limit: number, offset: number): Promise<{ count: number; rows: OrderRecord[] }> {
    const [count, rows] = await Promise.all([
      this.db.order.count({ where: { userId } }),
      limit === 0 ? [] : this.db.order.findMany({ where: { userId }, include: orderWithItems, orderBy: { id: "desc" }, take: limit, skip: offset }),
    ]);
    return { count, rows };
  }

  find(id: number): Promise<OrderRecord | null> {
    return this.db.order.findFirst({ where: { id }, include: orderWithItems });
  }

  /** Forgets idempotency keys older than the window (expired keys are also replaced when reused). */
  async purgeIdempotencyKeys(): Promise<number> {
    return this.db.$executeRawUnsafe(`DELETE FROM idempotency_keys WHERE created_at < now() - interval '${IDEMPOTENCY_WINDOW}'`);
  }
}

/** Runs `work` again after a transient conflict (deadlock, serialization failure), a few times. */
async function withRetries<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const retryable = error instanceof RetryableConflict || isTransientConflict(error);
      if (attempt >= MAX_ATTEMPTS || !retryable) throw error;
      await sleep(10 * attempt + Math.random() * 20);
    }
  }
}

/** Each product may appear once in an order: throws naming every repeated line. */
export function assertDistinctProducts(lines: OrderLine[]): void {
  const seen = new Set<number>();
  const repeated: { index: number; productId: number }[] = [];
  lines.forEach((line, index) => {
    if (seen.has(line.id)) repeated.push({ index, productId: line.id });
    seen.add(line.id);
  });
  if (repeated.length > 0) throw duplicateProducts(repeated);
}

/**
 * Claims the key for this request. A concurrent request with the same key blocks on the
 * primary key until the first commits, then sees its answer. Returns the earlier answer, if any.
 */
async function claimIdempotencyKey(tx: Prisma.TransactionClient, userId: string, idem: Idempotency): Promise<{ answer: unknown } | null> {
  await tx.$executeRawUnsafe(DELETE_EXPIRED_KEY, userId, idem.key);
  const claimed = await tx.$executeRawUnsafe(CLAIM_KEY, userId, idem.key, idem.requestHash);
  if (claimed === 1) return null;
  const earlier = await tx.idempotencyKey.findUnique({ where: { userId_key: { userId, key: idem.key } } });
  // Expired and deleted by a concurrent request between our insert and this read: start over.
  if (!earlier) throw new RetryableConflict("idempotency key vanished");
  if (earlier.requestHash !== idem.requestHash) {
    throw idempotencyKeyReused();
  }
  return { answer: earlier.body };
}
