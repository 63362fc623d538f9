import { createHash } from "node:crypto";
import { stringify as canonicalJson } from "safe-stable-stringify";
import { setTimeout as sleep } from "node:timers/promises";
import { Prisma, type PrismaClient } from "../../generated/prisma/client.js";
import { isTransientConflict } from "../db/errors.js";
import { duplicateProducts, idempotencyKeyReused, insufficientStock, unknownProducts } from "../errors/app-error.js";

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

export interface Idempotency {
  key: string;
  requestHash: string;
  /** What a replay of this key answers (stored with the key, in the order's transaction). */
  answerFor(order: OrderRecord): unknown;
}

const MAX_ATTEMPTS = 4;
const IDEMPOTENCY_WINDOW = "24 hours";

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
   * Takes the stock of every line or of none, in one transaction. Product rows are locked in id
   * order, so two orders over the same products wait for each other instead of deadlocking, and
   * the stock check reads what the lock holder committed. Transient conflicts are retried.
   */
  async place(userId: string, lines: OrderLine[], idempotency?: Idempotency): Promise<PlacedOrder> {
    for (let attempt = 1; ; attempt++) {
      try {
        // How long to wait for the transaction to begin is the client's setting (DatabaseWaits);
        // the timeout is above the statement and lock timeouts (src/db/client.ts), so those fail first.
        return await this.db.$transaction((tx) => this.placeWithin(tx, userId, lines, idempotency), { timeout: 15_000 });
      } catch (error) {
        const retryable = error instanceof RetryableConflict || isTransientConflict(error);
        if (attempt >= MAX_ATTEMPTS || !retryable) throw error;
        await sleep(10 * attempt + Math.random() * 20);
      }
    }
  }

  private async placeWithin(
    tx: Prisma.TransactionClient,
    userId: string,
    lines: OrderLine[],
    idempotency?: Idempotency,
  ): Promise<PlacedOrder> {
    if (idempotency) {
      const earlier = await claimIdempotencyKey(tx, userId, idempotency);
      if (earlier) return { replayed: true, answer: earlier.answer };
    }

    const byId = [...lines].sort((a, b) => a.id - b.id);
    const ids = byId.map((line) => line.id);
    const products = await tx.$queryRaw<{ id: number; name: string; price: Prisma.Decimal; stock: number }[]>`
      SELECT id, name, price, stock FROM products WHERE id = ANY(${ids}::int[]) ORDER BY id FOR UPDATE`;
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

    await tx.$executeRaw`
      UPDATE products AS p SET stock = p.stock - v.quantity, updated_at = now()
      FROM unnest(${ids}::int[], ${byId.map((l) => l.quantity)}::int[]) AS v(id, quantity)
      WHERE p.id = v.id`;

    const items = lines.map((line) => {
      const product = found.get(line.id)!;
      return {
        productId: line.id,
        productName: product.name,
        unitPrice: product.price,
        quantity: line.quantity,
        lineTotal: product.price.mul(line.quantity),
      };
    });
    const total = items.reduce((sum, item) => sum.add(item.lineTotal), new Prisma.Decimal(0));
    const order = await tx.order.create({
      data: { userId, total, items: { create: items } },
      include: orderWithItems,
    });
    if (idempotency) {
      await tx.idempotencyKey.update({
        where: { userId_key: { userId, key: idempotency.key } },
        data: { statusCode: 201, body: idempotency.answerFor(order) as Prisma.InputJsonValue },
      });
    }
    return { order, replayed: false, unitsSold: lines.reduce((sum, line) => sum + line.quantity, 0) };
  }

  async page(userId: string, limit: number, offset: number): Promise<{ count: number; rows: OrderRecord[] }> {
    const [count, rows] = await Promise.all([
      this.db.order.count({ where: { userId } }),
      limit === 0
        ? []
        : this.db.order.findMany({ where: { userId }, include: orderWithItems, orderBy: { id: "desc" }, take: limit, skip: offset }),
    ]);
    return { count, rows };
  }

  find(id: number): Promise<OrderRecord | null> {
    return this.db.order.findFirst({ where: { id }, include: orderWithItems });
  }

  /** Forgets idempotency keys older than the window (expired keys are also replaced when reused). */
  async purgeIdempotencyKeys(): Promise<number> {
    return this.db.$executeRawUnsafe(
      `DELETE FROM idempotency_keys WHERE created_at < now() - interval '${IDEMPOTENCY_WINDOW}'`,
    );
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
    throw idempotencyKeyReused();
  }
  return { answer: earlier.body };
}
