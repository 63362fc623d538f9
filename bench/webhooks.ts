// npm run bench:webhooks — webhooks under load on PostgreSQL (and the embedded database with
// BENCH_DATABASES=postgres,embedded): (a) commit-to-receiver latency of order.created at a steady
// BENCH_WEBHOOK_RATE orders/s (default 100) with two endpoints subscribed, measured from the
// order's 201 answer (just after its commit) to the delivery reaching a local receiver; (b) orders/s
// under closed-loop load with two endpoints subscribed against none (goal: at most 10 % slower), in
// BENCH_ROUNDS rounds (default 3) of one phase each, which goes first alternating from round to
// round; the median of the rounds' changes, each round's, and the change that the CPU each order
// cost says: the service's, PostgreSQL's (ms per order: the figures a shared machine blurs least;
// on the embedded database the service's includes the database) and this process's own (the load
// and the receiver, on the same machine).
// Env: BENCH_DURATION (seconds per phase, default 10), BENCH_CONNECTIONS (32), BENCH_ROUNDS (3);
// BENCH_WEBHOOKS_FLOOR=1 (PostgreSQL only) measures the floor instead: no delivery row written,
// every delivery still signed, sent and answered (lib/webhooks-floor.ts); BENCH_PROFILE_DIR runs
// the service under --cpu-prof (its profile is kept in a new directory there) and prints what two
// endpoints added to an order's CPU on the service's main thread, by package and by function.
import { once } from "node:events";
import { mkdir, mkdtemp } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { adminToken, call, expect, registerUsers } from "./lib/api.js";
import { postmasterPid, treeCpuSeconds } from "./lib/cpu.js";
import { benchDatabases, createBenchDatabase, type BenchDatabase } from "./lib/databases.js";
import { benchDuration, randomInts, roundRobin, runLoad, WARMUP_SECONDS } from "./lib/load.js";
import { main, onCleanup, step } from "./lib/main.js";
import { seedProducts } from "./lib/postgres.js";
import { addedSelfTime, mainThreadProfile, monotonicMicros, type PhaseWindow } from "./lib/phase-profile.js";
import { median, printTable, summarize, type Row } from "./lib/report.js";
import { installWebhooksFloor } from "./lib/webhooks-floor.js";

/** One closed-loop phase: orders/s, and the CPU (ms) each order cost the service, PostgreSQL and this process. */
interface Phase {
  rps: number;
  service: number;
  postgres: number;
  bench: number;
}

const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const rate = Number(process.env.BENCH_WEBHOOK_RATE ?? 100);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const floor = process.env.BENCH_WEBHOOKS_FLOOR === "1";
const profileDir = process.env.BENCH_PROFILE_DIR;
const PRODUCTS = 1_000;

function cpuSecondsOfThisProcess(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** A local endpoint that answers 204 at once and notes when each order's event arrived. */
async function startReceiver() {
  const arrivals = new Map<number, number>();
  let deliveries = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const at = performance.now();
      deliveries++;
      // Only /a's arrivals are timed; /b just answers (a receiver costs this machine's CPU too).
      if (request.url === "/a") {
        const { data } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { data: { id: number } };
        if (!arrivals.has(data.id)) arrivals.set(data.id, at);
      }
      response.writeHead(204).end();
    });
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  onCleanup(async () => void server.close());
  return { url: (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`, arrivals, deliveries: () => deliveries };
}

await main("bench:webhooks", async () => {
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`BENCH_ROUNDS: a whole number ≥ 1, not ${process.env.BENCH_ROUNDS}`);
  if (floor && benchDatabases().includes("embedded")) throw new Error("BENCH_WEBHOOKS_FLOOR: PostgreSQL only (BENCH_DATABASES=postgres)");
  const rows: Row[] = [];
  for (const kind of benchDatabases())
    rows.push(...(await benchWebhooks(await step(`[${kind}] database + migrations`, () => createBenchDatabase(kind, "webhooks")))));
  printTable(`Webhooks${floor ? ", the floor (no delivery row written)" : ""} (latency in ms; the machine may be shared: compare rows of one run)`, rows);
  return true;
});

async function benchWebhooks(db: BenchDatabase): Promise<Row[]> {
  const label = `[${db.kind}]`;
  const { firstId, lastId } = await step(`${label} seeding ${PRODUCTS} products`, () => db.withUrl((url) => seedProducts(url, PRODUCTS, 1_000_000_000)));
  const url = db.url;
  if (floor && url) await step(`${label} the floor: record_event writes no delivery row`, () => installWebhooksFloor(url));
  // A directory of this run's own in BENCH_PROFILE_DIR, for this database's service alone.
  const profiles = profileDir ? await mkdir(profileDir, { recursive: true }).then(() => mkdtemp(join(profileDir, `${db.kind}-`))) : undefined;
  const service = await step(`${label} starting service`, () =>
    db.startService({ WEBHOOK_CONCURRENCY: "32" }, profiles ? ["--cpu-prof", `--cpu-prof-dir=${profiles}`] : []),
  );
  onCleanup(async () => void (await service.stop()));
  const admin = await adminToken(service.baseUrl);
  const users = await step(`${label} registering 32 users`, () => registerUsers(service.baseUrl, 32));
  const nextToken = roundRobin(users.map((u) => u.token));
  const random = randomInts(11);
  const orderBody = () => ({ products: [{ id: random(firstId, lastId), quantity: 1 }] });
  const receiver = await startReceiver();
  const rows: Row[] = [];

  const postmaster = db.url ? await postmasterPid(db.url) : undefined;
  // This process's own CPU too: the load and the receiver, which share the machine with the service.
  const cpu = async () => ({
    service: (await service.cpuSeconds()) ?? Number.NaN,
    postgres: postmaster ? await treeCpuSeconds(postmaster) : Number.NaN,
    bench: cpuSecondsOfThisProcess(),
  });
  const msPerOrder = (seconds: number, orders: number) => (Number.isNaN(seconds) ? Number.NaN : (seconds * 1e3) / orders);
  const ms = (value: number) => (Number.isNaN(value) ? "n/a" : Math.round(value * 100) / 100);

  const endpoints: { id: string }[] = [];
  for (const path of ["/a", "/b"]) {
    endpoints.push(
      await expect<{ id: string }>(201, service.baseUrl, "POST", "/api/webhook/", {
        token: admin,
        body: { url: receiver.url(path), event_types: ["order.created"] },
      }),
    );
  }
  const subscribe = async (enabled: boolean) => {
    for (const endpoint of endpoints) await expect(200, service.baseUrl, "PATCH", `/api/webhook/${endpoint.id}`, { token: admin, body: { enabled } });
  };
  const placeOrder = () => ({ method: "POST" as const, path: "/api/order/", token: nextToken(), body: orderBody() });

  // The deliveries of a phase are sent during it and after it: its CPU is counted until they all arrived.
  const windows: Record<0 | 2, PhaseWindow[]> = { 0: [], 2: [] };
  const closedLoop = async (name: string, endpointCount: 0 | 2): Promise<Phase> => {
    await subscribe(endpointCount > 0);
    const before = await cpu();
    const fromUs = monotonicMicros();
    const sentBefore = receiver.deliveries();
    const result = await step(`${label} orders, ${name} (${benchDuration()} s, ${connections} connections)`, () =>
      runLoad({ baseUrl: service.baseUrl, connections, next: placeOrder }),
    );
    const created = result.statuses["201"] ?? 0;
    await step(`${label} waiting for the phase's ${created * endpointCount} deliveries`, async () => {
      for (let i = 0; i < 1_200 && receiver.deliveries() - sentBefore < created * endpointCount; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    });
    const after = await cpu();
    windows[endpointCount].push({ fromUs, toUs: monotonicMicros(), units: created });
    const phase: Phase = {
      rps: result.rps,
      service: msPerOrder(after.service - before.service, created),
      postgres: msPerOrder(after.postgres - before.postgres, created),
      bench: msPerOrder(after.bench - before.bench, created),
    };
    rows.push({
      database: db.kind,
      phase: `orders/s, ${name}`,
      "orders/s": Math.round(result.rps),
      p50: result.p50,
      p99: result.p99,
      non2xx: result.non2xx,
      "service ms/order": ms(phase.service),
      "postgres ms/order": ms(phase.postgres),
      "load + receiver ms/order": ms(phase.bench),
    });
    return phase;
  };
  // Both paths warmed up first, so that no phase is measured on a cold process.
  for (const endpointCount of [2, 0]) {
    await subscribe(endpointCount > 0);
    await step(`${label} warm-up, ${endpointCount} endpoints (${WARMUP_SECONDS} s)`, () =>
      runLoad({ baseUrl: service.baseUrl, connections, durationSeconds: WARMUP_SECONDS, next: placeOrder }),
    );
  }
  // Round after round, each mode's phase first every other round: the machine's drift and its
  // neighbours weigh on both modes alike, and each round compares two phases seconds apart.
  const pairs: { none: Phase; two: Phase }[] = [];
  for (let round = 1; round <= rounds; round++) {
    const pair: Partial<{ none: Phase; two: Phase }> = {};
    for (const mode of round % 2 ? (["none", "two"] as const) : (["two", "none"] as const))
      pair[mode] = await closedLoop(`${mode === "two" ? "two endpoints" : "no endpoint"}, round ${round}/${rounds}`, mode === "two" ? 2 : 0);
    pairs.push(pair as { none: Phase; two: Phase });
  }

  // Let the backlog of the closed-loop phases drain before measuring latency.
  await subscribe(true);
  await step(`${label} draining deliveries`, async () => {
    for (let i = 0; i < 600; i++) {
      const pending = await call(service.baseUrl, "GET", `/api/webhook/${endpoints[0]!.id}/deliveries?status=pending&limit=0`, { token: admin });
      const other = await call(service.baseUrl, "GET", `/api/webhook/${endpoints[1]!.id}/deliveries?status=pending&limit=0`, { token: admin });
      if ((pending.body as { count: number }).count + (other.body as { count: number }).count === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  });

  // Open loop: one order every 1000/rate ms, whatever the answers take.
  const answered = new Map<number, number>();
  let failed = 0;
  await step(`${label} steady ${rate} orders/s for ${benchDuration()} s, two endpoints`, async () => {
    const inFlight: Promise<void>[] = [];
    const started = performance.now();
    for (let i = 0; i < rate * benchDuration(); i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      inFlight.push(
        call(service.baseUrl, "POST", "/api/order/", { token: nextToken(), body: orderBody() }).then((answer) => {
          if (answer.status === 201) answered.set((answer.body as { id: number }).id, performance.now());
          else failed++;
        }),
      );
    }
    await Promise.all(inFlight);
    const deadline = performance.now() + 60_000;
    while ([...answered.keys()].some((id) => !receiver.arrivals.has(id)) && performance.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
  });
  const latencies = [...answered].flatMap(([id, at]) => (receiver.arrivals.has(id) ? [receiver.arrivals.get(id)! - at] : []));
  const { p50, p99 } = summarize(latencies);
  rows.push({
    database: db.kind,
    phase: `commit-to-receiver at ${rate} orders/s`,
    "orders/s": rate,
    p50: Math.round(p50 * 10) / 10,
    p99: Math.round(p99 * 10) / 10,
    non2xx: failed,
    delivered: `${latencies.length}/${answered.size}`,
  });
  const change = (two: number, none: number) => (Number.isNaN(two - none) ? "n/a" : `${two > none ? "+" : ""}${(((two - none) / none) * 100).toFixed(1)} %`);
  const extra = (of: (phase: Phase) => number) => median(pairs.map(({ none, two }) => of(two) - of(none)));
  const total = (phase: Phase) => phase.service + phase.postgres + phase.bench;
  const totalNone = median(pairs.map(({ none }) => total(none)));
  const added = (value: number) => (Number.isNaN(value) ? "n/a" : `+${ms(value)}`);
  rows.push(
    {
      database: db.kind,
      phase: `two endpoints vs none: median of ${rounds} rounds`,
      "orders/s": change(median(pairs.map(({ none, two }) => two.rps / none.rps)), 1),
      "service ms/order": added(extra((p) => p.service)),
      "postgres ms/order": added(extra((p) => p.postgres)),
      "load + receiver ms/order": added(extra((p) => p.bench)),
    },
    {
      database: db.kind,
      phase: "  round by round",
      "orders/s": pairs.map(({ none, two }) => change(two.rps, none.rps)).join(", "),
    },
    {
      database: db.kind,
      phase: "  as the CPU of all three says",
      "orders/s": change(totalNone, totalNone + extra(total)),
    },
  );
  if (profiles) {
    await service.stop(); // the profile is written as the process exits
    const { profile } = await mainThreadProfile(profiles);
    for (const by of ["package", "function"] as const)
      printTable(
        `${label} what two endpoints added to an order on the service's main thread, by ${by} (µs of self time per order, closed-loop phases)`,
        addedSelfTime(profile, windows[0], windows[2], by).map((row) => ({
          [by]: row.where,
          "no endpoint": Math.round(row.base * 10) / 10,
          "two endpoints": Math.round(row.measured * 10) / 10,
          added: Math.round(row.added * 10) / 10,
        })),
      );
  }
  return rows;
}
