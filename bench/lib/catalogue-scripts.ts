// pgbench transactions with the exact SQL of the service's catalogue reads (built by the
// service's own src/catalogue/statements.ts), so the ceiling and the service run the same statements.
import { countProducts, productPage, productsByIds } from "../../src/catalogue/statements.js";
import type { ProductFilter } from "../../src/catalogue/products-repository.js";

export interface PgbenchScript {
  script: string;
  /** String variables for pgbench --define (its `\set` takes numbers only). */
  defines: Record<string, string>;
}

/** Statements with their values as one transaction; `$n` become pgbench variables, sent as parameters. */
function statements(list: { text: string; values: unknown[] }[]): PgbenchScript {
  const defines: Record<string, string> = {};
  const lines = list.map(({ text, values }, s) =>
    text.replace(/\$(\d+)/g, (_, n: string) => {
      const name = `s${s}p${n}`;
      defines[name] = String(values[Number(n) - 1]);
      return `:${name}`;
    }),
  );
  return { script: lines.map((line) => `${line};\n`).join(""), defines };
}

/** The service's filter from list parameters (a price only needs its decimal text here). */
export function filterOf(keyword: string | undefined, maxPrice: string | undefined): ProductFilter {
  return { ...(keyword ? { keyword } : {}), ...(maxPrice !== undefined ? { maxPrice: { toString: () => maxPrice } as ProductFilter["maxPrice"] } : {}) };
}

/**
 * GET /api/product/{id} with a random id in [firstId, lastId]: the service's statement for one
 * read (the service lets concurrent reads share it; pgbench sends one per transaction).
 */
export function byIdScript(firstId: number, lastId: number): PgbenchScript {
  return { script: `\\set id random(${firstId}, ${lastId})\n${productsByIds.text.replace("$1", "ARRAY[:id]")};\n`, defines: {} };
}

/**
 * A list page as its SQL without the service's count cache: the count and the page. With
 * `pageOnly`, the page alone: what a request sends while its filter's count is cached.
 */
export function pageScript(filter: ProductFilter, limit: number, offset: number, pageOnly = false): PgbenchScript {
  const count = countProducts(filter);
  const page = productPage(filter, { field: "id", descending: false }, limit, offset);
  return statements([...(pageOnly ? [] : [{ text: count.statement.text, values: count.values }]), { text: page.statement.text, values: page.values }]);
}
