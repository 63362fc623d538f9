// npm run bench:cursor — walking a large catalogue: the median page reached through `next` near the
// end of a 1,000,000-product list, with cursor links and with offset links, against the first page;
// then (PostgreSQL) EXPLAIN (ANALYZE, BUFFERS) of the list's main SQL shapes at that size.
// Env: BENCH_DATABASES (default postgres,embedded), BENCH_PRODUCTS (default 1000000),
// BENCH_EMBEDDED_PRODUCTS (default BENCH_PRODUCTS), BENCH_PAGES (pages walked, default 50),
// BENCH_ORDERINGS (default id,price,-created_at), BENCH_EXPLAIN (default 1).
import { registerUsers, call } from "./lib/api.js";
import { benchDatabases, createBenchDatabase, type DatabaseKind } from "./lib/databases.js";
import { main, onCleanup, step } from "./lib/main.js";
import { seedProducts, withClient } from "./lib/postgres.js";
import { printChecks, printTable, summarize, type Check } from "./lib/report.js";
import { countProducts, productKeysetPage, productPage, SORT_COLUMNS, type Ordering } from "../src/catalogue/statements.js";
import { parseOrdering } from "../src/catalogue/cursor.js";
import type { ProductFilter } from "../src/catalogue/products-repository.js";
import { Decimal } from "../src/shared/money.js";

const size = Number(process.env.BENCH_PRODUCTS ?? 1_000_000);
const embeddedSize = Number(process.env.BENCH_EMBEDDED_PRODUCTS ?? size);
const pages = Number(process.env.BENCH_PAGES ?? 50);
const orderings = (process.env.BENCH_ORDERINGS ?? "id,price,-created_at").split(",");
const explain = process.env.BENCH_EXPLAIN !== "0";
const LIMIT = 5;
const FIRST_PAGE_SAMPLES = 21;

interface Figures {
  database: DatabaseKind;
  products: number;
  ordering: string;
  firstPage: number;
  firstCursorPage: number;
  cursorNearEnd: number;
  offsetNearEnd: number;
  entryHop: number;
}

const queryOf = (link: string) => link.slice(link.indexOf("?"));

await main("bench:cursor", async () => {
  const figures: Figures[] = [];
  const checks: Check[] = [];
  for (const database of benchDatabases()) {
    const products = database === "postgres" ? size : embeddedSize;
    const label = `[${database} ${products}]`;
    const db = await step(`${label} database + migrations`, () => createBenchDatabase(database, `cursor_${products}`));
    await step(`${label} seeding ${products} products`, () => db.withUrl((url) => seedProducts(url, products)));
    const service = await step(`${label} starting service`, () => db.startService());
    onCleanup(async () => void (await service.stop()));
    const [user] = await registerUsers(service.baseUrl, 1);
    let overloaded = 0;
    const get = async (path: string) => {
      for (let attempt = 1; ; attempt++) {
        const answer = await call(service.baseUrl, "GET", path, { token: user!.token });
        // On the embedded database a deep offset page holds the event loop long enough for the
        // overload guard to refuse the next request (503): counted, waited out, and asked again.
        if (answer.status === 503 && attempt < 10) {
          overloaded++;
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          continue;
        }
        if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${answer.text.slice(0, 200)}`);
        return answer as { ms: number; body: { count: number; next: string | null; results: { id: number }[] } };
      }
    };
    /** Follows `next` `pages` times from `path`; the ms of each followed page and every id seen. */
    const walk = async (path: string) => {
      const entry = await get(path);
      const ids = entry.body.results.map((p) => p.id);
      const times: number[] = [];
      let page = entry;
      for (let i = 0; i < pages && page.body.next; i++) {
        page = await get(`/api/product/${queryOf(page.body.next)}`);
        times.push(page.ms);
        ids.push(...page.body.results.map((p) => p.id));
      }
      return { entryMs: entry.ms, times, ids, last: page };
    };

    for (const ordering of orderings) {
      const base = `/api/product/?ordering=${encodeURIComponent(ordering)}&limit=${LIMIT}`;
      await get(base); // warms the count and the plan cache
      const first: number[] = [];
      const firstCursor: number[] = [];
      for (let i = 0; i < FIRST_PAGE_SAMPLES; i++) {
        first.push((await get(base)).ms);
        firstCursor.push((await get(`${base}&cursor=`)).ms);
      }
      // Enter `pages` + 1 pages before the end, then follow `next` to the last page.
      const entryOffset = products - LIMIT * (pages + 1);
      const cursorWalk = await step(`${label} ${ordering}: ${pages} pages through cursor links near the end`, () =>
        walk(`${base}&offset=${entryOffset}&cursor=`),
      );
      const refusedBefore = overloaded;
      const offsetWalk = await step(`${label} ${ordering}: ${pages} pages through offset links near the end`, () => walk(`${base}&offset=${entryOffset}`));
      if (overloaded > refusedBefore)
        console.log(`  (${overloaded - refusedBefore} offset pages were refused with 503 by the overload guard first, then retried)`);
      const row: Figures = {
        database,
        products,
        ordering,
        firstPage: summarize(first).p50,
        firstCursorPage: summarize(firstCursor).p50,
        cursorNearEnd: summarize(cursorWalk.times).p50,
        offsetNearEnd: summarize(offsetWalk.times).p50,
        entryHop: cursorWalk.entryMs,
      };
      figures.push(row);
      const same = cursorWalk.ids.length === offsetWalk.ids.length && cursorWalk.ids.every((id, i) => id === offsetWalk.ids[i]);
      checks.push({
        name: `${database} ${ordering}: cursor and offset walks show the same products`,
        ok: same,
        detail: `${cursorWalk.ids.length} and ${offsetWalk.ids.length} products, ${new Set(cursorWalk.ids).size} distinct`,
      });
      checks.push({
        name: `${database} ${ordering}: the cursor walk reaches the end`,
        ok: cursorWalk.last.body.next === null && cursorWalk.times.length === pages,
        detail: `${cursorWalk.times.length} pages followed`,
      });
      checks.push({
        name: `${database} ${ordering}: median page through next near the end ≤ 3× the first page`,
        ok: row.cursorNearEnd <= 3 * row.firstPage,
        detail: `${row.cursorNearEnd.toFixed(2)} ms vs ${row.firstPage.toFixed(2)} ms (${(row.cursorNearEnd / row.firstPage).toFixed(2)}×); offset links: ${row.offsetNearEnd.toFixed(1)} ms`,
      });
    }
    await service.stop();
    if (explain && database === "postgres") await db.withUrl((url) => printPlans(url, products));
  }

  printTable(
    `Walking near the end of the list (${LIMIT} per page, ${pages} pages followed, one client; median ms per page)`,
    figures.map((f) => ({
      database: f.database,
      products: f.products,
      ordering: f.ordering,
      "first page": f.firstPage,
      "first page (cursor=)": f.firstCursorPage,
      "next near end, cursor": f.cursorNearEnd,
      "cursor / first": `${(f.cursorNearEnd / f.firstPage).toFixed(2)}×`,
      "next near end, offset": f.offsetNearEnd,
      "offset / first": `${(f.offsetNearEnd / f.firstPage).toFixed(1)}×`,
      "entry at offset (once)": f.entryHop,
    })),
  );
  return printChecks("Checks (goal: cursor pages near the end within 3× of the first page)", checks);
});

/** EXPLAIN (ANALYZE, BUFFERS) of the list's SQL, built by the service's own functions. */
async function printPlans(url: string, products: number): Promise<void> {
  const decimal = (text: string) => new Decimal(text);
  const cases: { title: string; ordering: string; filter: ProductFilter; shape: "keyset" | "offset" }[] = [
    { title: "id order, cursor near the end", ordering: "id", filter: {}, shape: "keyset" },
    { title: "price order, cursor near the end", ordering: "price", filter: {}, shape: "keyset" },
    { title: "-price order with max_price=50, cursor near the end", ordering: "-price", filter: { maxPrice: decimal("50") }, shape: "keyset" },
    {
      title: "price order with min_price=10 and max_price=20, cursor near the end",
      ordering: "price",
      filter: { minPrice: decimal("10"), maxPrice: decimal("20") },
      shape: "keyset",
    },
    { title: "name order, cursor near the end", ordering: "name", filter: {}, shape: "keyset" },
    { title: "-created_at order, cursor near the end", ordering: "-created_at", filter: {}, shape: "keyset" },
    { title: "keyword=tea, price order, cursor near the end", ordering: "price", filter: { keyword: "tea" }, shape: "keyset" },
    {
      title: "keyword=tea with max_price=50, name order, cursor near the end",
      ordering: "name",
      filter: { keyword: "tea", maxPrice: decimal("50") },
      shape: "keyset",
    },
    { title: "price order, offset near the end (what offset links cost)", ordering: "price", filter: {}, shape: "offset" },
  ];
  await withClient(url, async (client) => {
    for (const c of cases) {
      const ordering: Ordering = parseOrdering(c.ordering);
      const count = countProducts(c.filter);
      const matching = Number((await client.query(count.statement.text, count.values)).rows[0].count);
      const position = Math.max(0, matching - 100);
      // The key of the product 100 before the end, as a cursor would carry it.
      const at = productPage(c.filter, ordering, 1, position);
      const [row] = (await client.query(at.statement.text, at.values)).rows;
      const key = SORT_COLUMNS[ordering.field].map(({ column }) =>
        column === "name_key" ? row.nameKey : column === "created_at" ? row.createdAt.toISOString() : column === "price" ? row.price : row.id,
      );
      const query =
        c.shape === "keyset" ? productKeysetPage(c.filter, ordering, "forward", key, LIMIT + 1) : productPage(c.filter, ordering, LIMIT + 1, position);
      await client.query(query.statement.text, query.values); // warm
      const plan = await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${query.statement.text}`, query.values);
      console.log(
        `\n--- ${c.title} (${matching} of ${products} products match)\n${query.statement.text}\n${plan.rows.map((r) => `  ${r["QUERY PLAN"]}`).join("\n")}`,
      );
    }
  });
}
