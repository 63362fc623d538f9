import { LRUCache } from "lru-cache";
import { Prisma, type PrismaClient } from "../../generated/prisma/client.js";
import type { SqlRunner } from "../infra/db/client.js";
import { uniqueViolationAs } from "../infra/db/errors.js";
import { SPEC_LIMITS } from "../infra/spec-limits.js";
import { AppError, nameTaken } from "../errors/app-error.js";
import { coalescedReads } from "./coalesced-reads.js";
import { PageCache } from "./page-cache.js";
import {
  bindFilter,
  countStatement,
  isSerialId,
  keysetStatement,
  pageStatement,
  productsByIds,
  type BoundFilter,
  type BoundStatement,
  type Ordering,
  type ProductFilter,
} from "./statements.js";
import type { MoneyText } from "../shared/money.js";
import type { NormalizedName } from "../shared/names.js";
import { sortKeyOf, type CatalogueCursor } from "./cursor.js";
import { lockResourceEvents, recordEvent, transactionWithEvents } from "../events/index.js";
import type { Wire } from "../infra/http/operation-types.js";

/** A product as the API describes it: what its events carry. */
export type ProductWire = (product: ProductRecord) => Wire<"Product">;

export interface ProductRecord {
  id: number;
  name: string;
  /** A Decimal from Prisma's writes, the column's own text from the catalogue's reads. */
  price: Prisma.Decimal | MoneyText;
  stock: number;
  /** Moved on by a database trigger at every change of the row: the source of the ETag. */
  version: number;
  nameKey: string;
  createdAt: Date;
  updatedAt: Date;
}

export type { ProductFilter };

export interface ProductFields {
  name?: NormalizedName;
  price?: Prisma.Decimal;
  stock?: number;
}

export interface ProductChanges extends ProductFields {
  /** Units to add (negative: remove) in the same statement, never below 0 nor above MAX_STOCK. */
  stockDelta?: number;
}

/** What a conditional write expects of the product: one of these versions, or any existing one. */
export type ExpectedVersion = { versions: number[] } | "any";

/** Where a cursor page starts: a cursor from an earlier page, or an offset (the first cursor page). */
export type PageStart = { cursor: CatalogueCursor } | { offset: number };

export interface CursorPage {
  count: number;
  rows: ProductRecord[];
  next: CatalogueCursor | null;
  previous: CatalogueCursor | null;
}

export const MAX_STOCK = SPEC_LIMITS.maxStock;
/** A write that missed its row only because the row changed in between is tried this often. */
const MAX_WRITE_ATTEMPTS = 3;

const fields = { id: true, name: true, nameKey: true, price: true, stock: true, version: true, createdAt: true, updatedAt: true } as const;

/**
 * How long a filter's total `count`, and which products a page holds, are reused. Counting
 * thousands of matches is the expensive part of a filtered page at a million products; the
 * products on a page are always read fresh, by id (src/catalogue/page-cache.ts). Writes through
 * this process invalidate both at once; writes through other replicas too, as soon as their
 * notification arrives (invalidateLists, from the `products_changed` channel); this delay is the
 * upper bound while that channel is down.
 * Concurrent requests for one filter share a single count query.
 */
const LIST_CACHE_TTL_MS = 5_000;

/** Notified by a trigger on `products` (see its migration) whenever a count may have changed. */
export const PRODUCTS_CHANGED_CHANNEL = "products_changed";

interface ProductRow {
  id: number;
  name: string;
  nameKey: string;
  price: MoneyText;
  stock: number;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface ProductsRepositoryOptions {
  wire: ProductWire;
  onCoalescedRead?: (reads: number) => void;
  readsFromPrimary?: () => boolean;
  /** Statements of coalesced reads by id in flight at once (src/catalogue/coalesced-reads.ts); default: no bound. */
  readsInFlight?: number;
}

export class ProductsRepository {
  private readonly counts: LRUCache<string, number, BoundStatement>;
  private readonly pages: PageCache<ProductRow>;
  /**
   * Part of every count's and page's key; a write moves it on, so counts started before the write (even
   * those still running) are never served after it. Old entries age out of the LRU.
   */
  private generation = 0;
  /** Reads by id shared by concurrent requests: those of clients who just wrote (read from the primary, see src/infra/db/read-routing.ts) apart. */
  private readonly byId: Record<"replica" | "primary", (id: number) => Promise<ProductRow | null>>;
  private readonly readsFromPrimary: () => boolean;

  private readonly db: PrismaClient;
  private readonly sql: SqlRunner;
  private readonly options: ProductsRepositoryOptions;

  constructor(db: PrismaClient, sql: SqlRunner, options: ProductsRepositoryOptions) {
    this.db = db;
    this.sql = sql;
    this.options = options;
    const byIds = () =>
      coalescedReads(
        async (ids: number[]) => {
          // An id no row can have is not sent: it would fail the statement for every read sharing it.
          const rows = await this.sql<ProductRow>(productsByIds, [ids.filter(isSerialId)]);
          return new Map(rows.map((row) => [row.id, row]));
        },
        { onStatement: options.onCoalescedRead, maxInFlight: options.readsInFlight },
      );
    this.byId = { replica: byIds(), primary: byIds() };
    this.readsFromPrimary = options.readsFromPrimary ?? (() => false);
    this.counts = new LRUCache<string, number, BoundStatement>({
      max: 10_000,
      ttl: LIST_CACHE_TTL_MS,
      fetchMethod: async (_key, _stale, { context }) => {
        const [row] = await this.sql<{ count: number }>(context.statement, context.values);
        return row!.count;
      },
    });
    this.pages = new PageCache<ProductRow>({
      ttlMs: LIST_CACHE_TTL_MS,
      readPage: (statement, values) => this.sql<ProductRow>(statement, values),
      readById: (id) => this.readById(id),
      onUnannouncedChange: () => this.invalidateLists(),
    });
  }

  /** Drops every reused count and page (another process changed the products, or may have). */
  invalidateLists(): void {
    this.generation++;
  }

  /** A page by offset in `ordering` (ties broken by id, so consecutive pages never overlap). */
  /** The rows may be shared with concurrent requests for the same page: read them, never change them. */
  async page(filter: ProductFilter, ordering: Ordering, limit: number, offset: number): Promise<{ count: number; rows: readonly ProductRecord[] }> {
    const bound = bindFilter(filter);
    const page = pageStatement(bound, ordering, limit, offset);
    const [count, rows] = await Promise.all([this.count(bound), limit === 0 ? [] : this.pageRows(page)]);
    return { count, rows };
  }

  /**
   * A page for cursor paging, with the cursors of the pages next to it. One row more than the
   * page is read to learn whether another page follows in the direction of travel; in the other
   * direction there is one whenever the page did not start at an end. An empty page (its
   * neighbours were removed meanwhile) links back to the end it came from.
   */
  async cursorPage(filter: ProductFilter, ordering: Ordering, start: PageStart, limit: number): Promise<CursorPage> {
    const cursor = (direction: CatalogueCursor["direction"], row?: ProductRecord): CatalogueCursor => ({
      ordering,
      filter,
      direction,
      ...(row ? { key: sortKeyOf(ordering, row) } : {}),
    });
    const backward = "cursor" in start && start.cursor.direction === "backward";
    const bound = bindFilter(filter);
    const query =
      "offset" in start
        ? pageStatement(bound, ordering, limit + 1, start.offset)
        : keysetStatement(bound, ordering, start.cursor.direction, start.cursor.key, limit + 1);
    const [count, found] = await Promise.all([this.count(bound), limit === 0 ? [] : this.pageRows(query)]);
    if (limit === 0) return { count, rows: [], next: null, previous: null };
    const more = found.length > limit;
    const rows: ProductRecord[] = found.slice(0, limit);
    if (backward) rows.reverse();
    const [first, last] = [rows[0], rows.at(-1)];
    const startedInside = "offset" in start ? start.offset > 0 : start.cursor.key !== undefined;
    if (backward) {
      return { count, rows, previous: more ? cursor("backward", first) : null, next: startedInside ? cursor("forward", last) : null };
    }
    return { count, rows, next: more ? cursor("forward", last) : null, previous: startedInside ? cursor("backward", first) : null };
  }

  private async count(filter: BoundFilter): Promise<number> {
    const count = await this.counts.fetch(`${this.listScope()}|${filter.countKey}`, { context: countStatement(filter) });
    return count!;
  }

  private pageRows(query: BoundStatement): Promise<readonly ProductRow[]> {
    return this.pages.rows(() => this.listScope(), query.statement, query.values);
  }

  /** What a reused count or page belongs to: this generation, and the primary or any database (a client that just wrote reads the primary's). */
  private listScope(): string {
    return `${this.generation}|${this.readsFromPrimary() ? "primary" : "any"}`;
  }

  /** Concurrent reads of products by id share one statement. */
  findById(id: number): Promise<ProductRecord | null> {
    return this.readById(id);
  }

  private readById(id: number): Promise<ProductRow | null> {
    return this.byId[this.readsFromPrimary() ? "primary" : "replica"](id);
  }

  async create(input: Required<ProductFields>): Promise<ProductRecord> {
    try {
      return await transactionWithEvents(this.db, async (tx) => {
        const product = await tx.product.create({
          data: { name: input.name.name, nameKey: input.name.key, price: input.price, stock: input.stock },
          select: fields,
        });
        await recordEvent(tx, "product.created", this.options.wire(product));
        return product;
      });
    } catch (error) {
      throw uniqueViolationAs(error, () => productNameTaken(input.name.name));
    } finally {
      this.generation++;
    }
  }

  /**
   * Changes the product in one UPDATE whose WHERE holds every condition: the expected version
   * (If-Match) and, for a stock adjustment, the bounds of the result. A concurrent order's
   * decrement is therefore never overwritten by a stale write, and an adjustment adds to
   * whatever the stock is when it runs. Null when the product does not exist.
   */
  async update(id: number, changes: ProductChanges, expected?: ExpectedVersion): Promise<ProductRecord | null> {
    const sets = [Prisma.sql`updated_at = now()`];
    if (changes.name !== undefined) sets.push(Prisma.sql`name = ${changes.name.name}, name_key = ${changes.name.key}`);
    if (changes.price !== undefined) sets.push(Prisma.sql`price = ${changes.price.toString()}::numeric`);
    if (changes.stock !== undefined) sets.push(Prisma.sql`stock = ${changes.stock}::int`);
    const conditions = [Prisma.sql`id = ${id}::int`, ...versionCondition(expected)];
    if (changes.stockDelta !== undefined) {
      sets.push(Prisma.sql`stock = stock + ${changes.stockDelta}::int`);
      conditions.push(Prisma.sql`stock::bigint + ${changes.stockDelta}::int BETWEEN 0 AND ${MAX_STOCK}::int`);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const row = await transactionWithEvents(this.db, async (tx) => {
          await lockResourceEvents(tx, "product", id);
          const [updated] = await tx.$queryRaw<ProductRow[]>`
            UPDATE products SET ${Prisma.join(sets)} WHERE ${Prisma.join(conditions, " AND ")}
            RETURNING id, name, name_key AS "nameKey", price::text AS price, stock, version, created_at AS "createdAt", updated_at AS "updatedAt"`;
          if (updated) await recordEvent(tx, "product.updated", this.options.wire(updated));
          return updated;
        });
        if (row) return row;
      } catch (error) {
        throw uniqueViolationAs(error, () => productNameTaken(changes.name?.name ?? ""));
      } finally {
        this.generation++;
      }
      if ((await this.whyUnchanged(id, changes, expected, attempt)) === "missing") return null;
    }
  }

  /**
   * Removes the product (if it still is the expected version); order lines keep its name and
   * price (order_items.product_id becomes null). False when it does not exist.
   */
  async delete(id: number, expected?: ExpectedVersion): Promise<boolean> {
    const deleted = await transactionWithEvents(this.db, async (tx) => {
      await lockResourceEvents(tx, "product", id);
      const [row] = await tx.$queryRaw<ProductRow[]>`
        DELETE FROM products WHERE ${Prisma.join([Prisma.sql`id = ${id}::int`, ...versionCondition(expected)], " AND ")}
        RETURNING id, name, name_key AS "nameKey", price::text AS price, stock, version, created_at AS "createdAt", updated_at AS "updatedAt"`;
      // The product as it was when removed.
      if (row) await recordEvent(tx, "product.deleted", this.options.wire(row));
      return row !== undefined;
    });
    this.generation++;
    if (deleted) return true;
    await this.whyUnchanged(id, {}, expected, MAX_WRITE_ATTEMPTS);
    return false;
  }

  /**
   * After a write that matched no row: "missing" when the product does not exist, else throws
   * the problem that stopped it (a version that no longer matches, a stock adjustment out of
   * bounds), or "retry" when the row, read now, would have matched (it changed in between).
   */
  private async whyUnchanged(id: number, changes: ProductChanges, expected: ExpectedVersion | undefined, attempt: number): Promise<"missing" | "retry"> {
    const current = await this.findById(id);
    if (!current) return "missing";
    if (expected !== undefined && expected !== "any" && !expected.versions.includes(current.version)) {
      throw new AppError("precondition-failed", `Product ${id} changed since you read it; nothing was changed. Read it again for its current ETag.`);
    }
    const result = current.stock + (changes.stockDelta ?? 0);
    if (changes.stockDelta !== undefined && (result < 0 || result > MAX_STOCK)) {
      const delta = changes.stockDelta;
      throw new AppError(
        "stock-out-of-range",
        `Product ${id} has ${current.stock} in stock; a change of ${delta} would leave ${result}${result < 0 ? "" : `, above ${MAX_STOCK}`}. Nothing was changed.`,
        {
          fieldErrors: [
            {
              field: ["stock_delta"],
              code: "stock-out-of-range",
              message: `${current.stock} in stock, ${delta} would leave ${result}`,
              product_id: id,
              requested: delta,
              available: current.stock,
            },
          ],
        },
      );
    }
    if (attempt < MAX_WRITE_ATTEMPTS) return "retry";
    throw new Error(`product ${id}: a conditional write kept missing a row that matches its conditions`);
  }
}

/** The WHERE condition for an expected version (If-Match): none, any existing row, or one of these. */
function versionCondition(expected?: ExpectedVersion): Prisma.Sql[] {
  if (expected === undefined || expected === "any") return [];
  return [Prisma.sql`version = ANY(${expected.versions}::int[])`];
}

const productNameTaken = (name: string) => nameTaken(`A product named "${name}" already exists.`, "product with this name already exists");
