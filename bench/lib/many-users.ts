// Many distinct users at once over real TCP, as a new user's first try or a client team's contract
// tests would: each registers, logs in, reads its own account, places orders and reads them back,
// while readers fetch product pages. Every answer's content is checked, not only its status: a
// user must only ever see its own data, and stock must add up afterwards.
import { randomBytes, randomUUID } from "node:crypto";

export interface ManyUsersOptions {
  baseUrl: string;
  /** An admin's access token, to create the products. */
  adminToken: string;
  users: number;
  /** Orders each user places (and reads back). */
  ordersPerUser: number;
  /** Concurrent product readers running while the users work. */
  readers: number;
  products: number;
  /** How many users run at once (all of them by default). */
  concurrency?: number;
}

export interface ManyUsersReport {
  requests: number;
  seconds: number;
  /** Answers by `METHOD route status`, e.g. `POST /api/order/ 201`. */
  answers: Record<string, number>;
  /** Every answer that was wrong: unexpected status, someone else's data, a mismatch. */
  failures: string[];
  ordersPlaced: number;
  /** Every answered request's latency in ms (request sent to body read), for percentiles. */
  latenciesMs: number[];
  /** The same latencies by `METHOD route status`, to tell which answers make the tail. */
  latenciesByAnswer: Record<string, number[]>;
}

interface Product {
  id: number;
  name: string;
  price: string;
  stock: number;
}

const PASSWORD_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const PRODUCT_STOCK = 1_000_000;

export async function runManyUsers(options: ManyUsersOptions): Promise<ManyUsersReport> {
  const report: ManyUsersReport = { requests: 0, seconds: 0, answers: {}, failures: [], ordersPlaced: 0, latenciesMs: [], latenciesByAnswer: {} };
  const api = client(options.baseUrl, report);
  const run = randomBytes(4).toString("hex");
  const products: Product[] = [];
  for (let i = 0; i < options.products; i++) {
    const price = `${(i % 7) + 1}.${String(i % 1000).padStart(3, "0")}`;
    const created = await api.call("POST", "/api/product/", "/api/product/", 201, {
      token: options.adminToken,
      body: { name: `load-${run}-p${i}x`, price, stock: PRODUCT_STOCK },
    });
    if (created) products.push(created as Product);
  }
  if (products.length !== options.products) return report;

  const started = performance.now();
  let usersDone = false;
  const readers = Array.from({ length: options.readers }, (_, r) => readProducts(api, products, r, () => usersDone));
  const queue = Array.from({ length: options.users }, (_, i) => i);
  const workers = Array.from({ length: options.concurrency ?? options.users }, async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) await oneUser(api, products, `load-${run}-user-${i}`, i, options.ordersPerUser, report);
  });
  await Promise.all(workers);
  usersDone = true;
  await Promise.all(readers);
  report.seconds = (performance.now() - started) / 1000;

  await checkStock(api, options.adminToken, products);
  return report;
}

type Api = ReturnType<typeof client>;

function client(baseUrl: string, report: ManyUsersReport) {
  /** Units each product gave to orders that were answered 201. */
  const sold = new Map<number, number>();
  return {
    /** Calls and checks the status; answers the parsed body, or undefined after recording a failure. */
    async call(
      method: string,
      path: string,
      route: string,
      status: number,
      options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
    ): Promise<any> {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      if (options.body !== undefined) headers["content-type"] = "application/json";
      report.requests++;
      let answer: Response;
      let text: string;
      let latency: number;
      const sent = performance.now();
      try {
        answer = await fetch(baseUrl + path, {
          method,
          headers,
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: AbortSignal.timeout(60_000),
        });
        text = await answer.text();
        latency = performance.now() - sent;
        report.latenciesMs.push(latency);
      } catch (error) {
        report.failures.push(`${method} ${path}: ${(error as Error).message}`);
        return undefined;
      }
      const key = `${method} ${route} ${answer.status}`;
      report.answers[key] = (report.answers[key] ?? 0) + 1;
      (report.latenciesByAnswer[key] ??= []).push(latency);
      if (answer.status !== status) {
        report.failures.push(`${method} ${path}: expected ${status}, got ${answer.status}: ${text.slice(0, 300)}`);
        return undefined;
      }
      return text ? JSON.parse(text) : null;
    },
    fail(message: string) {
      report.failures.push(message);
    },
    sold,
  };
}

async function oneUser(api: Api, products: Product[], name: string, index: number, orders: number, report: ManyUsersReport): Promise<void> {
  const password = Array.from(randomBytes(16), (b) => PASSWORD_ALPHABET[b % PASSWORD_ALPHABET.length]).join("");
  const user = await api.call("POST", "/api/register/", "/api/register/", 201, { body: { name, password } });
  if (!user) return;
  if (user.name !== name || user.is_admin !== false) return api.fail(`register ${name}: answered ${JSON.stringify(user)}`);
  const tokens = await api.call("POST", "/api/token/", "/api/token/", 200, { body: { name, password } });
  if (!tokens) return;
  const token: string = tokens.access;

  const self = await api.call("GET", `/api/user/${user.id}`, "/api/user/{id}", 200, { token });
  if (self && (self.id !== user.id || self.name !== name)) api.fail(`user ${name} read ${JSON.stringify(self)}`);

  const placed: any[] = [];
  for (let n = 0; n < orders; n++) {
    const product = products[(index * 7 + n) % products.length]!;
    const quantity = 1 + ((index + n) % 3);
    const order = await api.call("POST", "/api/order/", "/api/order/", 201, {
      token,
      headers: { "idempotency-key": randomUUID() },
      body: { products: [{ id: product.id, quantity }] },
    });
    if (!order) continue;
    const line = order.items?.[0];
    if (
      order.items?.length !== 1 ||
      line.product_id !== product.id ||
      line.quantity !== quantity ||
      line.name !== product.name ||
      line.unit_price !== product.price
    ) {
      api.fail(`order by ${name} for ${quantity} × ${product.id} answered ${JSON.stringify(order)}`);
      continue;
    }
    report.ordersPlaced++;
    api.sold.set(product.id, (api.sold.get(product.id) ?? 0) + quantity);
    placed.push(order);
    const readBack = await api.call("GET", `/api/order/${order.id}`, "/api/order/{id}", 200, { token });
    if (readBack && JSON.stringify(readBack) !== JSON.stringify(order)) api.fail(`order ${order.id} of ${name} read back as ${JSON.stringify(readBack)}`);
  }

  const mine = await api.call("GET", "/api/order/?limit=100", "/api/order/", 200, { token });
  if (mine) {
    const ids = mine.results.map((o: { id: number }) => o.id).sort((a: number, b: number) => a - b);
    const expected = placed.map((o) => o.id).sort((a, b) => a - b);
    if (mine.count !== placed.length || JSON.stringify(ids) !== JSON.stringify(expected)) {
      api.fail(`${name}'s order list is ${JSON.stringify(ids)} (count ${mine.count}), placed ${JSON.stringify(expected)}`);
    }
  }
}

async function readProducts(api: Api, products: Product[], reader: number, done: () => boolean): Promise<void> {
  const name = `load-reader-${reader}-${randomBytes(3).toString("hex")}`;
  const password = `Reader-${randomBytes(12).toString("base64url")}`;
  if (!(await api.call("POST", "/api/register/", "/api/register/", 201, { body: { name, password } }))) return;
  const tokens = await api.call("POST", "/api/token/", "/api/token/", 200, { body: { name, password } });
  if (!tokens) return;
  for (let n = 0; !done(); n++) {
    const product = products[(reader + n) % products.length]!;
    if (n % 2 === 0) {
      const read = await api.call("GET", `/api/product/${product.id}`, "/api/product/{id}", 200, { token: tokens.access });
      if (read && (read.id !== product.id || read.name !== product.name || read.price !== product.price)) {
        api.fail(`product ${product.id} read as ${JSON.stringify(read)}`);
      }
    } else {
      const page = await api.call("GET", `/api/product/?keyword=${encodeURIComponent(product.name)}`, "/api/product/", 200, { token: tokens.access });
      if (page && (page.count !== 1 || page.results[0]?.id !== product.id || page.results[0]?.price !== product.price)) {
        api.fail(`search for ${product.name} answered ${JSON.stringify(page).slice(0, 300)}`);
      }
    }
  }
}

/** Every unit an answered order took is gone from stock, and nothing more. */
async function checkStock(api: Api, adminToken: string, products: Product[]): Promise<void> {
  for (const product of products) {
    const now = await api.call("GET", `/api/product/${product.id}`, "/api/product/{id}", 200, { token: adminToken });
    const sold = api.sold.get(product.id) ?? 0;
    if (now && now.stock !== PRODUCT_STOCK - sold) api.fail(`product ${product.id}: stock ${now.stock}, but answered orders took ${sold} of ${PRODUCT_STOCK}`);
  }
}
