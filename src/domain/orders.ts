import { createHash } from "node:crypto";
import { stringify as canonicalJson } from "safe-stable-stringify";
import { setTimeout as sleep } from "node:timers/promises";
import { Prisma, type PrismaClient } from "../../generated/prisma/client.js";
import { Problem, type ProblemFieldError } from "../http/problem.js";
import { isTransientConflict } from "../db/errors.js";
import { formatMoney } from "./money.js";

export interface OrderLine {
  id: number;
  quantity: number;
}

/** An order as the API shows it; also what an idempotency key replays. */
export interface OrderView {
  id: number;
  status: "created";
  created_at: string;
  items: { product_id: number | null; name: string; quantity: number; unit_price: string; line_total: string }[];
  total: string;
}

export interface PlacedOrder {
  order: OrderView;
  /** True when an Idempotency-Key matched an earlier order and nothing new was written. */
  replayed: boolean;
  unitsSold: number;
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
   * Takes the stock of every line or of none, in one transaction. Product rows are locked in id
   * order, so two orders over the same products wait for each other instead of deadlocking, and
   * the stock check reads what the lock holder committed. Transient conflicts are retried.
   */
  async place(userId: string, lines: OrderLine[], idempotency?: Idempotency): Promise<PlacedOrder> {
    assertDistinctProducts(lines);
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
      if (earlier) return { order: earlier, replayed: true, unitsSold: 0 };
    }

    const byId = [...lines].sort((a, b) => a.id - b.id);
    const ids = byId.map((line) => line.id);
    const products = await tx.$queryRaw<{ id: number; name: string; price: Prisma.Decimal; stock: number }[]>`
      SELECT id, name, price, stock FROM products WHERE id = ANY(${ids}::int[]) ORDER BY id FOR UPDATE`;
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
    const row = await tx.order.create({
      data: { userId, total, items: { create: items } },
      include: orderWithItems,
    });
    const order = toOrderView(row);
    if (idempotency) {
      await tx.idempotencyKey.update({
        where: { userId_key: { userId, key: idempotency.key } },
        data: { statusCode: 201, body: order as unknown as Prisma.InputJsonValue },
      });
    }
    return { order, replayed: false, unitsSold: lines.reduce((sum, line) => sum + line.quantity, 0) };
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
    status: "created",
    created_at: row.createdAt.toISOString(),
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
