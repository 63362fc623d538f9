// The floor to compare the service with: node:http + a pg Pool running the SQL the service runs
// for the catalogue (the same statements, from src/catalogue/statements.ts; a filter's count
// reused for 5 s like the service's count cache, the page read in parallel; one statement per
// product read by id, where the service lets concurrent reads share one), prepared under a
// name per connection as the service prepares them (DB_PREPARED_STATEMENTS=false: unnamed), JSON
// out, no auth, no validation, no metrics. Env: DATABASE_URL, HOST, PORT, DB_POOL_MAX; without
// DATABASE_URL, the embedded database in DATA_DIR, served as the service serves it.
import { join } from "node:path";
import { createServer, type ServerResponse } from "node:http";
import pg from "pg";
import { queryConfigs, type Statement } from "../src/infra/db/client.js";
import { startEmbeddedPostgres } from "../src/infra/db/embedded.js";
import { countProducts, productPage, productsByIds } from "../src/catalogue/statements.js";
import { filterOf } from "./lib/catalogue-scripts.js";

const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres({ dataDir: join(process.env.DATA_DIR ?? "data", "pglite") });
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? embedded!.url, max: Number(process.env.DB_POOL_MAX ?? 20) });
const toQuery = queryConfigs(process.env.DB_PREPARED_STATEMENTS !== "false");
const run = <Row extends pg.QueryResultRow>(statement: Statement, values: unknown[]) => pool.query<Row>(toQuery(statement, values));
const COUNT_TTL_MS = 5_000;
const counts = new Map<string, { at: number; count: Promise<number> }>();

interface ProductRow {
  id: number;
  name: string;
  price: string;
  stock: number;
  createdAt: Date;
  updatedAt: Date;
}

const toBody = (p: ProductRow) => ({
  id: p.id,
  name: p.name,
  price: p.price, // numeric(10,3) as text: already the wire form
  stock: p.stock,
  created_at: p.createdAt.toISOString(),
  updated_at: p.updatedAt.toISOString(),
});

function count(query: ReturnType<typeof countProducts>): Promise<number> {
  const key = query.statement.text + JSON.stringify(query.values);
  const cached = counts.get(key);
  if (cached && Date.now() - cached.at < COUNT_TTL_MS) return cached.count;
  const fresh = run<{ count: number }>(query.statement, query.values).then((r) => r.rows[0]!.count);
  counts.set(key, { at: Date.now(), count: fresh });
  fresh.catch(() => counts.delete(key));
  return fresh;
}

async function listProducts(url: URL) {
  const limit = Number(url.searchParams.get("limit") ?? 5);
  const offset = Number(url.searchParams.get("offset") ?? 0);
  const filter = filterOf(url.searchParams.get("keyword") ?? undefined, url.searchParams.get("max_price") ?? undefined);
  const page = productPage(filter, { field: "id", descending: false }, limit, offset);
  const [total, rows] = await Promise.all([count(countProducts(filter)), run<ProductRow>(page.statement, page.values)]);
  const link = (at: number) => {
    const params = new URLSearchParams(url.search);
    params.set("limit", String(limit));
    params.set("offset", String(at));
    return `${url.origin}${url.pathname}?${params}`;
  };
  return {
    count: total,
    next: offset + limit < total ? link(offset + limit) : null,
    previous: offset > 0 ? link(Math.max(0, offset - limit)) : null,
    results: rows.rows.map(toBody),
  };
}

async function getProduct(id: number) {
  const { rows } = await run<ProductRow>(productsByIds, [[id]]);
  return rows[0] ? toBody(rows[0]) : undefined;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

const server = createServer(async (request, response) => {
  try {
    const url = new URL(request.url ?? "/", `http://${request.headers.host ?? "localhost"}`);
    const byId = /^\/api\/product\/(\d+)\/?$/.exec(url.pathname);
    if (url.pathname === "/readyz") {
      await pool.query("SELECT 1");
      send(response, 200, { status: "ready" });
    } else if (url.pathname === "/api/product/" || url.pathname === "/api/product") {
      send(response, 200, await listProducts(url));
    } else if (byId) {
      const product = await getProduct(Number(byId[1]));
      send(response, product ? 200 : 404, product ?? { code: "not-found" });
    } else {
      send(response, 404, { code: "not-found" });
    }
  } catch (error) {
    send(response, 500, { code: "internal-error", detail: String(error) });
  }
});
server.keepAliveTimeout = 5_000;
server.listen(Number(process.env.PORT ?? 8001), process.env.HOST ?? "127.0.0.1");
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    server.close(
      () =>
        void pool
          .end()
          .then(() => embedded?.close())
          .finally(() => process.exit(0)),
    );
    server.closeAllConnections();
  });
}
