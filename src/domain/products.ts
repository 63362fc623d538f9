import { LRUCache } from "lru-cache";
import { Prisma, type PrismaClient } from "../../generated/prisma/client.js";
import type { SqlRunner } from "../db/client.js";
import { isRecordMissing, uniqueViolationAs } from "../db/errors.js";
import { nameTaken } from "../errors/app-error.js";
import { countProducts, productById, productPage, type ProductFilter } from "./catalogue-sql.js";
import type { MoneyText } from "./money.js";
import type { NormalizedName } from "./names.js";

export interface ProductRecord {
  id: number;
  name: string;
  /** A Decimal from Prisma's writes, the column's own text from the catalogue's reads. */
  price: Prisma.Decimal | MoneyText;
  stock: number;
  createdAt: Date;
  updatedAt: Date;
}

export type { ProductFilter };

export interface ProductFields {
  name?: NormalizedName;
  price?: Prisma.Decimal;
  stock?: number;
}

const fields = { id: true, name: true, price: true, stock: true, createdAt: true, updatedAt: true } as const;

/**
 * How long a filter's total `count` is reused. Counting thousands of matches is the expensive
 * part of a filtered page at a million products; the page itself is always read fresh. Writes
 * through this process invalidate the counts at once; writes through other replicas too, as soon
 * as their notification arrives (invalidateCounts, from the `products_changed` channel); this
 * delay is the upper bound while that channel is down.
 * Concurrent requests for one filter share a single count query.
 */
const COUNT_CACHE_TTL_MS = 5_000;

/** Notified by a trigger on `products` (see its migration) whenever a count may have changed. */
export const PRODUCTS_CHANGED_CHANNEL = "products_changed";

type CountQuery = ReturnType<typeof countProducts>;

interface ProductRow {
  id: number;
  name: string;
  price: MoneyText;
  stock: number;
  createdAt: Date;
  updatedAt: Date;
}

export class ProductsRepository {
  private readonly counts: LRUCache<string, number, CountQuery>;
  /**
   * Part of every count's key; a write moves it on, so counts started before the write (even
   * those still running) are never served after it. Old entries age out of the LRU.
   */
  private generation = 0;

  constructor(
    private readonly db: PrismaClient,
    private readonly sql: SqlRunner,
  ) {
    this.counts = new LRUCache<string, number, CountQuery>({
      max: 10_000,
      ttl: COUNT_CACHE_TTL_MS,
      fetchMethod: async (_key, _stale, { context }) => {
        const [row] = await this.sql<{ count: number }>(context.statement, context.values);
        return row!.count;
      },
    });
  }

  /** Drops every reused count (another process changed the products, or may have). */
  invalidateCounts(): void {
    this.generation++;
  }

  /** A page in id order, so consecutive pages never repeat or skip a product. */
  async page(filter: ProductFilter, limit: number, offset: number): Promise<{ count: number; rows: ProductRecord[] }> {
    const page = productPage(filter, limit, offset);
    const [count, rows] = await Promise.all([
      this.count(filter),
      limit === 0 ? [] : this.sql<ProductRow>(page.statement, page.values),
    ]);
    return { count, rows };
  }

  private async count(filter: ProductFilter): Promise<number> {
    const query = countProducts(filter);
    const count = await this.counts.fetch(`${this.generation}:${query.statement.text}:${JSON.stringify(query.values)}`, { context: query });
    return count!;
  }

  async findById(id: number): Promise<ProductRecord | null> {
    const [row] = await this.sql<ProductRow>(productById, [id]);
    return row ?? null;
  }

  async create(input: Required<ProductFields>): Promise<ProductRecord> {
    try {
      return await this.db.product.create({
        data: { name: input.name.name, nameKey: input.name.key, price: input.price, stock: input.stock },
        select: fields,
      });
    } catch (error) {
      throw uniqueViolationAs(error, () => productNameTaken(input.name.name));
    } finally {
      this.generation++;
    }
  }

  async update(id: number, changes: ProductFields): Promise<ProductRecord | null> {
    try {
      return await this.db.product.update({
        where: { id },
        data: {
          ...(changes.name !== undefined ? { name: changes.name.name, nameKey: changes.name.key } : {}),
          ...(changes.price !== undefined ? { price: changes.price } : {}),
          ...(changes.stock !== undefined ? { stock: changes.stock } : {}),
        },
        select: fields,
      });
    } catch (error) {
      if (isRecordMissing(error)) return null;
      throw uniqueViolationAs(error, () => productNameTaken(changes.name?.name ?? ""));
    } finally {
      this.generation++;
    }
  }

  /** Removes the product; order lines keep its name and price (order_items.product_id becomes null). */
  async delete(id: number): Promise<boolean> {
    const { count } = await this.db.product.deleteMany({ where: { id } });
    this.generation++;
    return count === 1;
  }
}

const productNameTaken = (name: string) => nameTaken(`A product named "${name}" already exists.`, "product with this name already exists");
