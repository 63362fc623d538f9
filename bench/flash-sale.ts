// npm run bench:flash-sale — a flash sale: many distinct buyers over TCP each ordering one unit of
// one product whose stock does not run out during the run. Prints the service's orders/s and
// latency beside pgbench running the same transaction on the same database (BEGIN; the order's
// two statements from src/orders/statements.ts; COMMIT) as the ceiling, and the service's share of
// it; then checks the stock ledger. On PostgreSQL and on the embedded database (pgbench reaches
// PGlite through the same loopback server the service uses, opened by this process while the
// service is stopped).
// Env: BENCH_DATABASES (postgres,embedded), BENCH_DURATION (seconds, 10), BENCH_CONNECTIONS
// (HTTP connections and pgbench clients, 32), BENCH_USERS (distinct buyers, 64).
import { adminToken, expect, registerUsers } from "./lib/api.js";
import { benchDatabases, createBenchDatabase, type BenchDatabase } from "./lib/databases.js";
import { benchDuration, describeProblems, roundRobin, runLoad, WARMUP_SECONDS } from "./lib/load.js";
import { main, onCleanup, step } from "./lib/main.js";
import { findPgbench, runPgbench, type PgbenchResult } from "./lib/pgbench.js";
import { sql, waitForQuiet } from "./lib/postgres.js";
import { printChecks, printTable, type Check, type Row } from "./lib/report.js";
import { TAKE_STOCK, WRITE_ORDER } from "../src/orders/statements.js";

const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const userCount = Number(process.env.BENCH_USERS ?? 64);
const FLASH = { name: "Flash Sale Green Tea 20-pack", price: "3.990", stock: 1_000_000_000 };
/** pgbench's buyers: users with ids <prefix><12 digits>, inserted directly. */
const PGBENCH_BUYER_PREFIX = "00000000-0000-4000-8000-";

await main("bench:flash-sale", async () => {
  const pgbench = findPgbench();
  if (!pgbench) console.log("pgbench not found (install PostgreSQL's client tools, or set PG_BIN_DIR): service figures only, no ceiling");
  const rows: Row[] = [];
  const checks: Check[] = [];
  for (const kind of benchDatabases()) {
    const db = await step(`[${kind}] database + migrations`, () => createBenchDatabase(kind, "flash_sale"));
    const result = await flashSale(db, pgbench);
    rows.push(...result.rows);
    checks.push(...result.checks);
  }
  printTable(`Flash sale: ${connections} connections, one product, 1 unit per order, ${benchDuration()} s (latency in ms; share = service ÷ pgbench)`, rows);
  return printChecks("Flash-sale checks", checks);
});

async function flashSale(db: BenchDatabase, pgbench: string | undefined): Promise<{ rows: Row[]; checks: Check[] }> {
  const label = `[${db.kind}]`;
  const service = await step(`${label} starting service`, () => db.startService());
  onCleanup(async () => void (await service.stop()));
  const product = await expect<{ id: number }>(201, service.baseUrl, "POST", "/api/product/", { token: await adminToken(service.baseUrl), body: FLASH });
  const users = await step(`${label} registering and logging in ${userCount} buyers`, () => registerUsers(service.baseUrl, userCount, "buyer"));
  const nextToken = roundRobin(users.map((u) => u.token));
  const order = () => ({ method: "POST" as const, path: "/api/order/", token: nextToken(), body: { products: [{ id: product.id, quantity: 1 }] } });

  await step(`${label} warm-up (${WARMUP_SECONDS} s)`, () => runLoad({ baseUrl: service.baseUrl, connections, durationSeconds: WARMUP_SECONDS, next: order }));
  if (db.url) await waitForQuiet(db.url);
  const load = await step(`${label} service: ${connections} connections, ${benchDuration()} s`, () =>
    runLoad({ baseUrl: service.baseUrl, connections, next: order }),
  );
  // Requests in flight when the load stopped finish before the service stops (PostgreSQL; the
  // embedded database cannot be watched from here while the service runs).
  if (db.url) await waitForQuiet(db.url);
  await service.stop();

  return db.withUrl(async (url) => {
    await waitForQuiet(url).catch(() => undefined); // the embedded database: only this process is connected now
    const [{ ordered: serviceOrders }] = (await sql<{ ordered: number }>(url, "SELECT count(*)::int AS ordered FROM orders")) as [{ ordered: number }];
    let ceiling: PgbenchResult | undefined;
    if (pgbench) {
      await sql(
        url,
        `INSERT INTO users (id, name, name_key, password_hash, updated_at)
         SELECT ($1 || lpad(g::text, 12, '0'))::uuid, 'pgbench-buyer-' || g, 'pgbench-buyer-' || g, 'x', now() FROM generate_series(1, $2::int) AS g`,
        [PGBENCH_BUYER_PREFIX, userCount],
      );
      ceiling = await step(`${label} pgbench: ${connections} clients, same transaction, ${benchDuration()} s`, () =>
        runPgbench(pgbench, { url, ...pgbenchOrder(product.id), clients: connections, durationSeconds: benchDuration(), protocol: "extended" }),
      );
    }

    const created = load.statuses["201"] ?? 0;
    const ordersPerSecond = created / benchDuration();
    const rows: Row[] = [
      {
        database: db.kind,
        load: "service (HTTP, distinct buyers)",
        "orders/s": ordersPerSecond,
        p50: load.p50,
        p99: load.p99,
        share: ceiling ? `${((100 * ordersPerSecond) / ceiling.tps).toFixed(0)}%` : "n/a",
        "non-201": describeProblems(load.problems, false) || "-",
      },
      ...(ceiling
        ? [
            {
              database: db.kind,
              load: "pgbench (same SQL)",
              "orders/s": ceiling.tps,
              p50: ceiling.p50,
              p99: ceiling.p99,
              share: "100%",
              "non-201": ceiling.failed ? `${ceiling.failed} failed` : "-",
            },
          ]
        : []),
    ];

    const [flash] = await sql<{ stock: number; sold: number }>(
      url,
      "SELECT p.stock, (SELECT coalesce(sum(quantity), 0)::int FROM order_items WHERE product_id = p.id) AS sold FROM products p WHERE p.id = $1",
      [product.id],
    );
    const fiveXx = Object.entries(load.statuses)
      .filter(([code]) => code >= "500")
      .reduce((sum, [, n]) => sum + n, 0);
    const checks: Check[] = [
      {
        name: "units sold = initial − final stock",
        ok: flash!.sold === FLASH.stock - flash!.stock,
        detail: `sold ${flash!.sold}, stock ${FLASH.stock} → ${flash!.stock}`,
      },
      {
        name: "the stock did not run out (every order answered 201)",
        ok: created === load.requests && load.errors === 0,
        detail: `${created} of ${load.requests} answers 201, ${load.errors} connection errors; ${describeProblems(load.problems) || "no problems"}`,
      },
      // Requests in flight when the load stopped were placed but their answers never read (warm-up included).
      { name: "service orders in the database ≥ its 201 answers", ok: serviceOrders >= created, detail: `${serviceOrders} rows, ${created} answers` },
      { name: "no 5xx", ok: fiveXx === 0, detail: `${fiveXx}` },
      ...(ceiling
        ? [{ name: "pgbench: no failed transactions", ok: ceiling.failed === 0 && ceiling.transactions > 0, detail: `${ceiling.transactions} transactions` }]
        : []),
    ];
    return { rows, checks: checks.map((c) => ({ ...c, name: `${db.kind}: ${c.name}` })) };
  });
}

/**
 * The service's order transaction as a pgbench script: the same two statements (the second also
 * writes the order's event), their bound values as pgbench variables (sent as parameters:
 * --protocol=extended). What the first statement
 * returns for the second (the drawn ids and time) is kept with \gset, as the service keeps it;
 * one product, so it returns one row. No Idempotency-Key, as in the service's load.
 */
function pgbenchOrder(productId: number): { script: string; defines: Record<string, string> } {
  const bind = (statement: string, values: Record<number, string>) =>
    statement.trim().replace(/\$(\d+)/g, (_, n: string) => {
      const value = values[Number(n)];
      if (value === undefined) throw new Error(`no pgbench value for $${n}`);
      return value;
    });
  const script = [
    `\\set buyer random(1, ${userCount})`,
    "BEGIN;",
    `${bind(TAKE_STOCK, { 1: ":ids", 2: ":quantities" })} \\gset taken_`,
    `${bind(WRITE_ORDER, {
      1: ":taken_order_id",
      2: "(:buyer_prefix || lpad(:buyer::text, 12, '0'))",
      3: ":price",
      4: ":taken_created_at",
      5: ":taken_item_ids",
      6: ":ids",
      7: ":names",
      8: ":prices",
      9: ":quantities",
      10: ":prices",
      11: "NULL",
      12: "NULL",
      // Its order.created event, as the service writes it (no webhook endpoint in this benchmark).
      13: "gen_random_uuid()",
      14: "'order.created'",
      15: "('order:' || :taken_order_id::text)",
      16: "jsonb_build_object('id', :taken_order_id::int, 'status', 'created', 'total', :price::numeric)",
      17: "'{}'",
      18: "'{}'",
    })};`,
    "COMMIT;",
    "",
  ].join("\n");
  return {
    script,
    defines: {
      buyer_prefix: PGBENCH_BUYER_PREFIX,
      ids: `{${productId}}`,
      quantities: "{1}",
      price: FLASH.price,
      names: `{"${FLASH.name}"}`,
      prices: `{${FLASH.price}}`,
    },
  };
}
