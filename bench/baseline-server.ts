// The floor to compare the service with: node:http + a pg Pool running the SQL the service runs
// for the catalogue (the count and the page in parallel, like Prisma does), JSON out, no auth,
// no validation, no metrics. Env: DATABASE_URL, HOST, PORT, DB_POOL_MAX.
import { createServer, type ServerResponse } from "node:http";
import pg from "pg";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.DB_POOL_MAX ?? 20) });
// The statements Prisma sends for the service (seen with log_statement = 'all').
const TABLE = `"public"."products"`;
const COLUMNS = ["id", "name", "price", "stock", "created_at", "updated_at"].map((c) => `${TABLE}."${c}"`).join(", ");

interface ProductRow {
  id: number;
  name: string;
  price: string;
  stock: number;
  created_at: Date;
  updated_at: Date;
}

const toBody = (p: ProductRow) => ({ ...p, created_at: p.created_at.toISOString(), updated_at: p.updated_at.toISOString() });

async function listProducts(url: URL) {
  const limit = Number(url.searchParams.get("limit") ?? 5);
  const offset = Number(url.searchParams.get("offset") ?? 0);
  const keyword = url.searchParams.get("keyword");
  const maxPrice = url.searchParams.get("max_price");
  const conditions: string[] = [];
  const values: unknown[] = [];
  if (keyword) conditions.push(`${TABLE}."name" ILIKE ('%' || $${values.push(keyword.replace(/[\\%_]/g, "\\$&"))} || '%')`);
  if (maxPrice !== null) conditions.push(`${TABLE}."price" <= $${values.push(maxPrice)}`);
  const where = conditions.length ? `WHERE (${conditions.join(" AND ")})` : "";
  const [count, page] = await Promise.all([
    pool.query<{ count: string }>(`SELECT COUNT(*) AS "count" FROM (SELECT ${TABLE}."id" FROM ${TABLE} ${where} OFFSET $${values.length + 1}) AS "sub"`, [...values, 0]),
    pool.query<ProductRow>(`SELECT ${COLUMNS} FROM ${TABLE} ${where} ORDER BY ${TABLE}."id" ASC LIMIT $${values.length + 1} OFFSET $${values.length + 2}`, [...values, limit, offset]),
  ]);
  const total = Number(count.rows[0]!.count);
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
    results: page.rows.map(toBody),
  };
}

async function getProduct(id: number) {
  const { rows } = await pool.query<ProductRow>(`SELECT ${COLUMNS} FROM ${TABLE} WHERE (${TABLE}."id" = $1 AND 1=1) LIMIT $2 OFFSET $3`, [id, 1, 0]);
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
    server.close(() => void pool.end().finally(() => process.exit(0)));
    server.closeAllConnections();
  });
}
