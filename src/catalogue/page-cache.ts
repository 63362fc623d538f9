import { LRUCache } from "lru-cache";
import type { Statement } from "../infra/db/client.js";

/**
 * What decides whether a product is on a list page, and where: its id, and the columns a filter
 * or an ordering reads that can change (the keyword matches `name`, the name ordering sorts on
 * `name_key`, the price bounds and ordering read `price`; `created_at` never changes). Stock and
 * version decide neither.
 */
export interface PlacedRow {
  id: number;
  name: string;
  nameKey: string;
  price: string;
}

/** Rows held at most, across every page: pages of up to a hundred rows or more, thousands of them. */
const MAX_CACHED_ROWS = 50_000;

export interface PageCacheOptions<Row extends PlacedRow> {
  /** How long a page's products are reused (the count cache's bound, the delay while the channel is down). */
  ttlMs: number;
  /** Reads the page from the database: which products, and their rows. */
  readPage: (statement: Statement, values: unknown[]) => Promise<Row[]>;
  /** Reads one product now (reads asked for together share one statement). */
  readById: (id: number) => Promise<Row | null>;
  /** Told when a cached page turned out changed before any notification said so: counts are stale too. */
  onUnannouncedChange?: () => void;
}

/**
 * Which products a list page holds, reused under the count cache's rules (a write through this
 * process starts a new generation before it answers; another process's write, on its
 * `products_changed` notification), while every row on it is read afresh at each request, by id.
 * A page served from the cache therefore shows each product as it is when the request runs
 * (stock, version, name, price: read-your-writes holds), in the place the page last read it.
 * When a product on the cached page is gone, or was renamed or repriced (its place may have
 * changed, another process's notification may still be on its way), the page is read again and
 * the owner told, so that it drops what else it reuses.
 */
export class PageCache<Row extends PlacedRow> {
  private readonly pages: LRUCache<string, readonly Row[]>;

  private readonly options: PageCacheOptions<Row>;

  constructor(options: PageCacheOptions<Row>) {
    this.options = options;
    this.pages = new LRUCache<string, readonly Row[]>({ maxSize: MAX_CACHED_ROWS, sizeCalculation: (rows) => rows.length + 1, ttl: options.ttlMs });
  }

  /**
   * The page's rows, in its order (shared with other requests: never to be changed); `scope`
   * tells generations and read sources apart (asked again after a change it was not told of).
   * Requests for the same page until the event loop next turns to I/O share one read: its
   * statements are sent then, after every one of them arrived (so each still sees every write
   * answered before it was sent).
   */
  rows(scope: () => string, statement: Statement, values: unknown[]): Promise<readonly Row[]> {
    const query = `${statementId(statement)}|${JSON.stringify(values)}`;
    const key = `${scope()}|${query}`;
    let read = this.reading.get(key);
    if (read === undefined) {
      read = this.read(scope, key, query, statement, values);
      this.reading.set(key, read);
      setImmediate(() => this.reading.delete(key));
    }
    return read;
  }

  private readonly reading = new Map<string, Promise<readonly Row[]>>();

  private async read(scope: () => string, key: string, query: string, statement: Statement, values: unknown[]): Promise<readonly Row[]> {
    const placed = this.pages.get(key);
    if (placed) {
      const fresh = await Promise.all(placed.map((row) => this.options.readById(row.id)));
      if (fresh.every((row, i) => row !== null && samePlace(row, placed[i]!))) return fresh as Row[];
      this.options.onUnannouncedChange?.();
      key = `${scope()}|${query}`;
    } else {
      await new Promise((sent) => setImmediate(sent));
    }
    const rows = await this.options.readPage(statement, values);
    this.pages.set(key, rows);
    return rows;
  }
}

const samePlace = (row: PlacedRow, placed: PlacedRow) => row.name === placed.name && row.nameKey === placed.nameKey && row.price === placed.price;

/** A short key for each statement (they are built once, at start-up): its text may be long. */
const statementIds = new WeakMap<Statement, number>();
let statementsSeen = 0;

function statementId(statement: Statement): number {
  let id = statementIds.get(statement);
  if (id === undefined) {
    id = statementsSeen++;
    statementIds.set(statement, id);
  }
  return id;
}
