// npm run bench:order-list — the back-office order list at 1,000,000 orders on a throwaway
// PostgreSQL: the median first page against the median page near the end reached by cursor, for
// each kind of filter, over HTTP (one client; the service reuses a filter's count for 5 s, so
// these are pages with a reused count), the count's own cost, then EXPLAIN (ANALYZE, BUFFERS) of
// both pages' SQL and of the count, built by the service's own functions.
// Env: BENCH_ORDERS (default 1000000), BENCH_SAMPLES (requests per median, default 21),
// BENCH_EXPLAIN (default 1).
import { adminToken, call, registerUsers } from "./lib/api.js";
import { main, startCluster, startServiceFor, step } from "./lib/main.js";
import { createMigratedDatabase, sql, withClient } from "./lib/postgres.js";
import { printChecks, printTable, summarize, type Check } from "./lib/report.js";
import { encodeOrderCursor, type OrderKey } from "../src/orders/cursor.js";
import { countOrders, orderKeysetPage, type OrderFilter } from "../src/orders/list-statements.js";

const size = Number(process.env.BENCH_ORDERS ?? 1_000_000);
const samples = Number(process.env.BENCH_SAMPLES ?? 21);
const explain = process.env.BENCH_EXPLAIN !== "0";
const CUSTOMERS = 20;
const LIMIT = 20;
/** How far before the oldest matching order the deep page starts. */
const FROM_END = 100;

/**
 * `size` orders with one line each, in two INSERT … SELECT: customers in turn, statuses 70 %
 * created, 15 % cancelled, 15 % fulfilled, spread evenly over the year before now (every tenth
 * shares its neighbour's instant, so ties are broken by id).
 */
async function seedOrders(url: string, userIds: string[], productId: number): Promise<void> {
  await withClient(url, async (client) => {
    await client.query("SET maintenance_work_mem = '256MB'");
    await client.query(
      `INSERT INTO orders (id, user_id, status, total, created_at, updated_at, cancelled_at, fulfilled_at)
       SELECT g, ($2::uuid[])[1 + g % cardinality($2::uuid[])], s.status, 2.5 * (1 + g % 5),
         t.at, t.at, CASE WHEN s.status = 'cancelled' THEN t.at + interval '1 hour' END, CASE WHEN s.status = 'fulfilled' THEN t.at + interval '1 day' END
       FROM generate_series(1, $1::int) AS g,
         LATERAL (SELECT CASE WHEN abs(hashint4(g)) % 100 < 70 THEN 'created' WHEN abs(hashint4(g)) % 100 < 85 THEN 'cancelled' ELSE 'fulfilled' END AS status) s,
         LATERAL (SELECT date_trunc('milliseconds', now()) - (($1::int - g + g % 10 / 9) * (31536000000::bigint / $1::int) * interval '1 millisecond') AS at) t`,
      [size, userIds],
    );
    await client.query(
      `INSERT INTO order_items (order_id, product_id, product_name, unit_price, quantity, line_total)
       SELECT g, $2::int, 'Bench Tea', 2.5, 1 + g % 5, 2.5 * (1 + g % 5) FROM generate_series(1, $1::int) AS g`,
      [size, productId],
    );
    await client.query("SELECT setval('orders_id_seq', $1::int)", [size]);
    await client.query("VACUUM ANALYZE orders");
    await client.query("VACUUM ANALYZE order_items");
  });
}

interface Case {
  title: string;
  query: string;
  filter: OrderFilter;
}

await main("bench:order-list", async () => {
  const cluster = await step("PostgreSQL cluster", () => startCluster());
  const url = await step("database + migrations", () => createMigratedDatabase(cluster, "order_list"));
  const service = await step("starting service", () => startServiceFor(url));
  const admin = await adminToken(service.baseUrl);
  await step(`registering ${CUSTOMERS} customers`, () => registerUsers(service.baseUrl, CUSTOMERS, "orders"));
  const userIds = (await sql<{ id: string }>(url, "SELECT id FROM users WHERE NOT is_admin ORDER BY id")).map((r) => r.id);
  const product = await call(service.baseUrl, "POST", "/api/product/", { token: admin, body: { name: "Bench Tea", price: "2.5", stock: 1000 } });
  await step(`seeding ${size} orders (generate_series)`, () => seedOrders(url, userIds, (product.body as { id: number }).id));

  const [oldest] = await sql<{ at: Date }>(url, "SELECT min(created_at) AS at FROM orders");
  const month = (n: number) => new Date(oldest!.at.getTime() + n * 30 * 86_400_000).toISOString();
  const customer = userIds[3]!;
  const cases: Case[] = [
    { title: "all orders (cursor=)", query: "cursor=", filter: {} },
    { title: "status=created", query: "status=created", filter: { statuses: ["created"] } },
    { title: "status=cancelled&status=fulfilled", query: "status=cancelled&status=fulfilled", filter: { statuses: ["cancelled", "fulfilled"] } },
    { title: "user_id (1 of 20 customers)", query: `user_id=${customer}`, filter: { userId: customer } },
    {
      title: "created_after + created_before (60 days)",
      query: `created_after=${month(2)}&created_before=${month(4)}`,
      filter: { createdAfter: month(2), createdBefore: month(4) },
    },
    {
      title: "user_id + status + dates",
      query: `user_id=${customer}&status=fulfilled&created_after=${month(1)}&created_before=${month(7)}`,
      filter: { userId: customer, statuses: ["fulfilled"], createdAfter: month(1), createdBefore: month(7) },
    },
  ];

  const checks: Check[] = [];
  const rows: Record<string, string | number>[] = [];
  for (const c of cases) {
    // The key FROM_END orders before the oldest match: where a client paging to the end would be.
    const deepKey = await keyNearEnd(url, c.filter);
    const cursor = `cursor=${encodeOrderCursor({ filter: c.filter, direction: "forward", key: deepKey.key })}`;
    const deep = c.query === "cursor=" ? cursor : `${c.query}&${cursor}`;
    const get = async (query: string) => {
      const answer = await call(service.baseUrl, "GET", `/api/order/?${query}&limit=${LIMIT}`, { token: admin });
      if (answer.status !== 200) throw new Error(`GET ${query}: ${answer.status} ${answer.text.slice(0, 300)}`);
      return answer as { ms: number; body: { count: number; next: string | null; results: { id: number }[] } };
    };
    const firstQuery = c.query;
    await get(firstQuery);
    await get(deep); // warm both plans
    const first: number[] = [];
    const near: number[] = [];
    let count = 0;
    let deepPage: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < samples; i++) {
      const a = await get(firstQuery);
      first.push(a.ms);
      count = a.body.count;
      deepPage = await get(deep);
      near.push(deepPage.ms);
    }
    // Follow `next` from the deep page to the end: every remaining order exactly once.
    let walked = deepPage!.body.results.map((o) => o.id);
    let next = deepPage!.body.next;
    while (next) {
      const page = await call(service.baseUrl, "GET", next.slice(next.indexOf("/api/order/")), { token: admin });
      walked = walked.concat((page.body as { results: { id: number }[] }).results.map((o) => o.id));
      next = (page.body as { next: string | null }).next;
    }
    const [firstMs, nearMs] = [summarize(first).p50, summarize(near).p50];
    rows.push({
      filter: c.title,
      matching: count,
      "first page": firstMs,
      "page near the end": nearMs,
      "near / first": `${(nearMs / firstMs).toFixed(2)}×`,
      "count (SQL, median of 5)": await countMs(url, c.filter),
    });
    checks.push({
      name: `${c.title}: following next from ${FROM_END} before the end lists the last ${FROM_END} orders once each`,
      ok: walked.length === deepKey.position - 1 && new Set(walked).size === walked.length,
      detail: `${walked.length} orders`,
    });
    checks.push({
      name: `${c.title}: the page near the end costs what the first does (≤ 2×)`,
      ok: nearMs <= 2 * firstMs,
      detail: `${nearMs.toFixed(2)} ms vs ${firstMs.toFixed(2)} ms`,
    });
    if (explain) await printPlans(url, c, deepKey.key, deepKey.position);
  }
  await service.stop();

  printTable(`GET /api/order/ as an admin at ${size} orders (${LIMIT} per page, one client, median of ${samples} requests, ms over HTTP)`, rows);
  return printChecks("Checks", checks);
});

/**
 * What counting the filter's orders costs on its own (a page pays it when the service's reused
 * count has expired: every 5 s per filter), in ms measured around the query.
 */
async function countMs(url: string, filter: OrderFilter): Promise<number> {
  const query = countOrders(filter);
  return withClient(url, async (client) => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await client.query(query.text, query.values);
      times.push(performance.now() - started);
    }
    return summarize(times).p50;
  });
}

/** The key of the order FROM_END before the oldest one matching `filter` in the list's order. */
async function keyNearEnd(url: string, filter: OrderFilter): Promise<{ key: OrderKey; position: number }> {
  const page = orderKeysetPage(filter, "backward", undefined, FROM_END + 1);
  const rows = await sql<{ id: number }>(url, page.text, page.values);
  const id = rows.at(-1)!.id;
  const [row] = await sql<{ created_at: Date }>(url, "SELECT created_at FROM orders WHERE id = $1", [id]);
  return { key: [row!.created_at.toISOString(), id], position: rows.length };
}

/** EXPLAIN (ANALYZE, BUFFERS) of the first page, the page near the end and the count. */
async function printPlans(url: string, c: Case, key: OrderKey, position: number): Promise<void> {
  const statements = [
    { title: "first page", query: orderKeysetPage(c.filter, "forward", undefined, LIMIT + 1) },
    { title: `page near the end (${position - 1} orders left)`, query: orderKeysetPage(c.filter, "forward", key, LIMIT + 1) },
    { title: "count", query: countOrders(c.filter) },
  ];
  await withClient(url, async (client) => {
    for (const s of statements) {
      await client.query(s.query.text, s.query.values);
      const plan = await client.query(`EXPLAIN (ANALYZE, BUFFERS) ${s.query.text}`, s.query.values);
      console.log(`\n--- ${c.title}: ${s.title}\n${s.query.text}\n${plan.rows.map((r) => `  ${r["QUERY PLAN"]}`).join("\n")}`);
    }
  });
}
