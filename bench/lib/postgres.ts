// A throwaway PostgreSQL cluster (the tests' helper), a migrated database on it, and direct SQL.
import pg from "pg";
import { applyMigrations } from "../../src/infra/db/migrations.js";
import { startPostgresCluster, type PostgresCluster } from "../../support/postgres-cluster.js";

export type { PostgresCluster };
export { startPostgresCluster };

/** Creates database `name` on the cluster, applies the migrations, returns its URL. */
export async function createMigratedDatabase(cluster: PostgresCluster, name: string): Promise<string> {
  await withClient(cluster.url, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(cluster.url);
  url.pathname = `/${name}`;
  await applyMigrations(url.toString());
  return url.toString();
}

export async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Runs one statement and returns its rows. */
export function sql<Row extends pg.QueryResultRow = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<Row[]> {
  return withClient(url, async (client) => (await client.query<Row>(text, values)).rows);
}

// Names are "<brand> <adjective> <item> <size> #<id>": unique, varied, and each item word is the
// only one containing its text, so a keyword like "tea" matches 1/ITEMS.length of the rows.
const BRANDS = ["Acme", "Nordic", "Sunny", "Alpine", "Golden", "Urban", "Vital", "Harbor", "Maple", "Zenith", "Orchard", "Pioneer"];
const ADJECTIVES = [
  "Organic",
  "Classic",
  "Fresh",
  "Premium",
  "Light",
  "Spicy",
  "Smoked",
  "Crunchy",
  "Creamy",
  "Wild",
  "Roasted",
  "Mild",
  "Bold",
  "Sweet",
  "Salted",
  "Frozen",
  "Red",
];
export const ITEMS = [
  "Tea",
  "Coffee",
  "Cocoa",
  "Juice",
  "Water",
  "Soda",
  "Milk",
  "Yogurt",
  "Butter",
  "Cheese",
  "Bread",
  "Bagel",
  "Muffin",
  "Cookie",
  "Cracker",
  "Chips",
  "Pretzel",
  "Popcorn",
  "Granola",
  "Oats",
  "Rice",
  "Pasta",
  "Noodles",
  "Flour",
  "Sugar",
  "Honey",
  "Jam",
  "Ketchup",
  "Mustard",
  "Mayo",
  "Salsa",
  "Pesto",
  "Olive Oil",
  "Vinegar",
  "Salt",
  "Pepper",
  "Paprika",
  "Cumin",
  "Basil",
  "Oregano",
  "Garlic",
  "Onion",
  "Potato",
  "Carrot",
  "Tomato",
  "Lettuce",
  "Spinach",
  "Broccoli",
  "Pumpkin",
  "Apple",
  "Banana",
  "Orange",
  "Lemon",
  "Mango",
  "Cherry",
  "Grape",
  "Plum",
  "Kiwi",
  "Melon",
  "Berry Mix",
  "Almonds",
  "Cashews",
  "Walnuts",
  "Peanuts",
  "Raisins",
  "Chicken",
  "Turkey",
  "Ham",
  "Bacon",
  "Salmon",
  "Tuna",
  "Shrimp",
  "Tofu",
  "Lentils",
  "Beans",
  "Chickpeas",
  "Soup",
  "Sauce",
  "Gravy",
  "Dressing",
  "Candy",
  "Chocolate",
  "Gum",
  "Lollipop",
  "Ice Cream",
  "Sorbet",
  "Pudding",
  "Custard",
  "Waffles",
  "Pancakes",
  "Cereal",
  "Muesli",
  "Shampoo",
  "Soap",
  "Toothpaste",
  "Detergent",
  "Sponge",
  "Napkins",
  "Candles",
  "Batteries",
];
const SIZES = ["100g", "250g", "500g", "1kg", "330ml", "500ml", "1l", "6-pack", "12-pack", "family size"];

const textArray = (words: string[]) => `ARRAY[${words.map((w) => `'${w.replace(/'/g, "''")}'`).join(",")}]`;
const pick = (words: string[], salt: number) => `(${textArray(words)})[1 + (abs(hashint4(g + ${salt})) % ${words.length})]`;

/**
 * Adds `count` products in one INSERT … SELECT (prices 0.500–100.000, stock `stock`), then ANALYZE.
 * Returns the first and last new id.
 */
export async function seedProducts(url: string, count: number, stock = 1_000): Promise<{ firstId: number; lastId: number }> {
  const name = `${pick(BRANDS, 11)} || ' ' || ${pick(ADJECTIVES, 23)} || ' ' || ${pick(ITEMS, 37)} || ' ' || ${pick(SIZES, 53)} || ' #' || g`;
  return withClient(url, async (client) => {
    await client.query("SET maintenance_work_mem = '256MB'");
    const { rows } = await client.query<{ first: number; last: number }>(
      `WITH added AS (
         INSERT INTO products (name, name_key, price, stock, updated_at)
         SELECT n, lower(n), round((0.5 + (abs(hashint4(g + 71)) % 995001) / 10000.0)::numeric, 3), $2, now()
         FROM generate_series(1, $1::int) AS g, LATERAL (SELECT ${name} AS n) AS named
         RETURNING id)
       SELECT min(id) AS first, max(id) AS last FROM added`,
      [count, stock],
    );
    await client.query("VACUUM ANALYZE products"); // as autovacuum would: clears the GIN pending list, sets the visibility map
    return { firstId: rows[0]!.first, lastId: rows[0]!.last };
  });
}

/** Every product's current stock, by id. */
export async function stockById(url: string): Promise<Map<number, number>> {
  const rows = await sql<{ id: number; stock: number }>(url, "SELECT id, stock FROM products");
  return new Map(rows.map((r) => [r.id, r.stock]));
}

/** Units sold per product (sum of order_items.quantity), by id. */
export async function unitsSoldById(url: string): Promise<Map<number, number>> {
  const rows = await sql<{ id: number; sold: string }>(
    url,
    "SELECT product_id AS id, sum(quantity) AS sold FROM order_items WHERE product_id IS NOT NULL GROUP BY product_id",
  );
  return new Map(rows.map((r) => [r.id, Number(r.sold)]));
}

/**
 * Products whose stock does not add up: initial + added − final ≠ units sold, or final < 0.
 * `initial` is the stock before the run (a product missing from it started at 0), `added` any restocks.
 */
export async function stockLedgerErrors(url: string, initial: Map<number, number>, added = new Map<number, number>()): Promise<string[]> {
  const [final, sold] = await Promise.all([stockById(url), unitsSoldById(url)]);
  const errors: string[] = [];
  for (const [id, stock] of final) {
    const expected = (initial.get(id) ?? 0) + (added.get(id) ?? 0) - (sold.get(id) ?? 0);
    if (stock !== expected || stock < 0)
      errors.push(
        `product ${id}: stock ${stock}, expected ${expected} (initial ${initial.get(id) ?? 0} + added ${added.get(id) ?? 0} − sold ${sold.get(id) ?? 0})`,
      );
  }
  return errors;
}

/** Orders whose total is not the sum of their lines, or with a line whose total is not unit price × quantity. */
export async function orderTotalErrors(url: string): Promise<{ orders: number; bad: string[] }> {
  const [{ orders }] = (await sql<{ orders: string }>(url, "SELECT count(*) AS orders FROM orders")) as [{ orders: string }];
  const bad = await sql<{ id: number; total: string; lines: string | null }>(
    url,
    `SELECT o.id, o.total, sum(i.line_total) AS lines
     FROM orders o LEFT JOIN order_items i ON i.order_id = o.id
     GROUP BY o.id
     HAVING o.total IS DISTINCT FROM sum(i.line_total) OR bool_or(i.line_total <> i.unit_price * i.quantity)`,
  );
  return { orders: Number(orders), bad: bad.map((r) => `order ${r.id}: total ${r.total}, lines ${r.lines}`) };
}

/**
 * Waits until no other session of this database is running a statement or is inside a
 * transaction, twice in a row: a load generator's last requests may still be in the service
 * when it stops. Gives up after `timeoutMs`.
 */
export async function waitForQuiet(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let quietInARow = 0;
  await withClient(url, async (client) => {
    while (quietInARow < 2) {
      if (Date.now() > deadline) throw new Error(`database still busy after ${timeoutMs / 1000} s`);
      const { rows } = await client.query<{ busy: string }>(
        `SELECT count(*) AS busy FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND state IS NOT NULL AND state <> 'idle'`,
      );
      quietInARow = Number(rows[0]!.busy) === 0 ? quietInARow + 1 : 0;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  });
}
