import { createHash } from "node:crypto";
import { stringify as canonicalJson } from "safe-stable-stringify";
import { setTimeout as sleep } from "node:timers/promises";
import { Prisma, type PrismaClient } from "../../generated/prisma/client.js";
import { Problem, type ProblemFieldError } from "../http/problem.js";
import { isTransientConflict } from "../db/errors.js";
import { formatMoney } from "./money.js";
import { CANCEL_ORDER, TAKE_STOCK, WRITE_ORDER } from "./order-sql.js";

export interface OrderLine {
  id: number;
  quantity: number;
}

/** An order as the API shows it; also what an idempotency key replays. */
export interface OrderView {
  id: number;
  status: "created" | "cancelled";
  created_at: string;
  cancelled_at: string | null;
  items: { product_id: number | null; name: string; quantity: number; unit_price: string; line_total: string }[];
  total: string;
}

export interface PlacedOrder {
  order: OrderView;
  /** True when an Idempotency-Key matched an earlier order and nothing new was written. */
  replayed: boolean;
  unitsSold: number;
}

export interface CancelledOrder {
  order: OrderView;
  /** Units put back in stock (lines whose product was deleted since are not restocked). */
  unitsReturned: number;
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

export interface Idempotency {
  key: string;
  requestHash: string;
}

const MAX_ATTEMPTS = 4;
const IDEMPOTENCY_WINDOW = "24 hours";

const orderWithItems = { items: { orderBy: { id: "asc" } } } as const;
type OrderRow = Prisma.OrderGetPayload<{ include: typeof orderWithItems }>;

/** A conflict this module detects itself and resolves by running the transaction again. */
class RetryableConflict extends Error {}

/**
 * What an Idempotency-Key is bound to: the body as canonical JSON (keys sorted), so the same
 * order sent with its fields in another order is the same request. Bodies written in the usual
 * order (`{"id","quantity"}`) hash as before.
 */
export function requestHash(body: unknown): string {
  return createHash("sha256").update(canonicalJson(body) ?? "").digest("hex");
}

export class OrdersRepository {
  constructor(private readonly db: PrismaClient) {}

  /**
   * Takes the stock of every line or of none, in one transaction of two statements while the
   * product rows are locked (order-sql.ts: lock in id order, check and take the stock, draw the
   * order's ids; then write the order, its lines and the idempotent answer), so a hot product's
   * row is held for two round trips and the commit. Transient conflicts are retried.
   */
  async place(userId: string, lines: OrderLine[], idempotency?: Idempotency): Promise<PlacedOrder> {
    assertDistinctProducts(lines);
    // How long to wait for the transaction to begin is the client's setting (DatabaseWaits);
    // the timeout is above the statement and lock timeouts (src/db/client.ts), so those fail first.
    return withRetries(() => this.db.$transaction((tx) => this.placeWithin(tx, userId, lines, idempotency), { timeout: 15_000 }));
  }

  private async placeWithin(
    tx: Prisma.TransactionClient,
    userId: string,
    lines: OrderLine[],
    idempotency?: Idempotency,
  ): Promise<PlacedOrder> {
    if (idempotency) {
      const earlier = await claimIdempotencyKey(tx, userId, idempotency);
      if (earlier) return { order: earlier, replayed: true, unitsSold: 0 };
    }

    // Ids ascending: the lock order (see order-sql.ts); quantities follow their ids.
    const byId = [...lines].sort((a, b) => a.id - b.id);
    const products = await tx.$queryRawUnsafe<StockRow[]>(TAKE_STOCK, byId.map((l) => l.id), byId.map((l) => l.quantity));
    const found = new Map(products.map((p) => [p.id, p]));

    const unknown = lines.filter((line) => !found.has(line.id));
    if (unknown.length > 0) {
      throw new Problem("unknown-product", `No product with id ${unknown.map((l) => l.id).join(", ")}.`, {
        errors: unknown.map((line) => ({
          path: `/body/products/${lines.indexOf(line)}/id`,
          code: "unknown-product",
          message: `product ${line.id} does not exist`,
          product_id: line.id,
        })),
      });
    }
    const short = lines.filter((line) => found.get(line.id)!.stock < line.quantity);
    if (short.length > 0) {
      throw new Problem("insufficient-stock", "Not enough stock for every line; nothing was ordered.", {
        errors: short.map((line): ProblemFieldError => {
          const product = found.get(line.id)!;
          return {
            path: `/body/products/${lines.indexOf(line)}/quantity`,
            code: "insufficient-stock",
            message: `${product.name}: ${line.quantity} requested, ${product.stock} available`,
            product_id: line.id,
            requested: line.quantity,
            available: product.stock,
          };
        }),
      });
    }
    // Every product exists and had enough, so the statement took them all and drew the ids.
    const drawn = products[0]!;
    if (drawn.taken !== lines.length || drawn.order_id === null || drawn.item_ids?.length !== lines.length) {
      throw new Error(`took stock of ${drawn.taken} of ${lines.length} products`);
    }
    const itemIds = [...drawn.item_ids].sort((a, b) => a - b);
    const items = lines.map((line, index) => {
      const product = found.get(line.id)!;
      const unitPrice = new Prisma.Decimal(product.price);
      return {
        id: itemIds[index]!,
        orderId: drawn.order_id!,
        productId: line.id,
        productName: product.name,
        unitPrice,
        quantity: line.quantity,
        lineTotal: unitPrice.mul(line.quantity),
      };
    });
    const record: OrderRow = {
      id: drawn.order_id,
      userId,
      status: "created",
      total: items.reduce((sum, item) => sum.add(item.lineTotal), new Prisma.Decimal(0)),
      createdAt: drawn.created_at!,
      updatedAt: drawn.created_at!,
      cancelledAt: null,
      items,
    };
    const order = toOrderView(record);
    await tx.$queryRawUnsafe(
      WRITE_ORDER,
      record.id,
      userId,
      record.total.toString(),
      record.createdAt,
      items.map((item) => item.id),
      items.map((item) => item.productId),
      items.map((item) => item.productName),
      items.map((item) => item.unitPrice.toString()),
      items.map((item) => item.quantity),
      items.map((item) => item.lineTotal.toString()),
      idempotency ? JSON.stringify(order) : null,
      idempotency?.key ?? null,
    );
    return { order, replayed: false, unitsSold: lines.reduce((sum, line) => sum + line.quantity, 0) };
  }

  /**
   * Cancels the order (an owner's own, or any when `ownerId` is undefined: an admin) and puts its
   * lines back in stock, once. Throws not-found for an order the caller cannot see and
   * order-already-cancelled when it was cancelled before (also by a concurrent request).
   */
  async cancel(id: number, ownerId?: string): Promise<CancelledOrder> {
    const [cancelled] = await withRetries(() =>
      this.db.$queryRawUnsafe<{ id: number; units_returned: number }[]>(CANCEL_ORDER, id, ownerId ?? null),
    );
    const order = await this.find(id, ownerId);
    if (!order) throw new Problem("not-found", `Order ${id} does not exist.`);
    if (!cancelled) {
      throw new Problem("order-already-cancelled", `Order ${id} was already cancelled at ${order.cancelled_at}; nothing changed.`);
    }
    return { order, unitsReturned: cancelled.units_returned };
  }

  async page(userId: string, limit: number, offset: number): Promise<{ count: number; rows: OrderView[] }> {
    const [count, rows] = await Promise.all([
      this.db.order.count({ where: { userId } }),
      limit === 0
        ? []
        : this.db.order.findMany({ where: { userId }, include: orderWithItems, orderBy: { id: "desc" }, take: limit, skip: offset }),
    ]);
    return { count, rows: rows.map(toOrderView) };
  }

  /** The order if it exists and `ownerId` (when given) placed it. */
  async find(id: number, ownerId?: string): Promise<OrderView | null> {
    const row = await this.db.order.findFirst({
      where: { id, ...(ownerId ? { userId: ownerId } : {}) },
      include: orderWithItems,
    });
    return row ? toOrderView(row) : null;
  }

  /** Forgets idempotency keys older than the window (expired keys are also replaced when reused). */
  async purgeIdempotencyKeys(): Promise<number> {
    return this.db.$executeRawUnsafe(
      `DELETE FROM idempotency_keys WHERE created_at < now() - interval '${IDEMPOTENCY_WINDOW}'`,
    );
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

function assertDistinctProducts(lines: OrderLine[]): void {
  const seen = new Set<number>();
  const errors: ProblemFieldError[] = [];
  lines.forEach((line, index) => {
    if (seen.has(line.id)) {
      errors.push({ path: `/body/products/${index}/id`, code: "duplicate-product", message: `product ${line.id} is listed twice`, product_id: line.id });
    }
    seen.add(line.id);
  });
  if (errors.length > 0) {
    throw new Problem("validation-failed", "Each product may appear only once in an order.", { errors });
  }
}

/**
 * Claims the key for this request. A concurrent request with the same key blocks on the
 * primary key until the first commits, then sees its answer. Returns the earlier answer, if any.
 */
async function claimIdempotencyKey(tx: Prisma.TransactionClient, userId: string, idem: Idempotency): Promise<OrderView | null> {
  await tx.$executeRawUnsafe(
    `DELETE FROM idempotency_keys WHERE user_id = $1::uuid AND key = $2 AND created_at < now() - interval '${IDEMPOTENCY_WINDOW}'`,
    userId,
    idem.key,
  );
  const claimed = await tx.$executeRaw`
    INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, body)
    VALUES (${userId}::uuid, ${idem.key}, ${idem.requestHash}, 0, '{}'::jsonb)
    ON CONFLICT DO NOTHING`;
  if (claimed === 1) return null;
  const earlier = await tx.idempotencyKey.findUnique({ where: { userId_key: { userId, key: idem.key } } });
  // Expired and deleted by a concurrent request between our insert and this read: start over.
  if (!earlier) throw new RetryableConflict("idempotency key vanished");
  if (earlier.requestHash !== idem.requestHash) {
    throw new Problem("idempotency-key-reused", "This Idempotency-Key was used with a different request body.");
  }
  return earlier.body as unknown as OrderView;
}

function toOrderView(row: OrderRow): OrderView {
  return {
    id: row.id,
    status: row.status === "cancelled" ? "cancelled" : "created",
    created_at: row.createdAt.toISOString(),
    cancelled_at: row.cancelledAt?.toISOString() ?? null,
    items: row.items.map((item) => ({
      product_id: item.productId,
      name: item.productName,
      quantity: item.quantity,
      unit_price: formatMoney(item.unitPrice),
      line_total: formatMoney(item.lineTotal),
    })),
    total: formatMoney(row.total),
  };
}
