// A steady mixed load of distinct users over TCP (orders with Idempotency-Key retried on 503,
// cancels of their own orders, product reads, logins), recording every answer, for tests that
// break the database underneath and then check what clients saw.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { assertMatchesSpec } from "./contract.js";
import { send, type Call, type HttpAnswer } from "./http-client.js";

export interface LoadUser {
  name: string;
  password: string;
  token: string;
}

export interface Answered {
  /** When the request was sent and when its answer arrived (ms since the epoch). */
  sentAt: number;
  at: number;
  op: "order" | "cancel" | "read" | "list" | "login";
  user: string;
  status: number;
  answer: HttpAnswer;
}

export interface PlacedOrder {
  id: number;
  user: string;
  key: string;
  lines: { product_id: number; quantity: number }[];
}

export interface MixedLoad {
  answers: Answered[];
  /** Orders answered 201, one per Idempotency-Key (a replay must name the same order). */
  placed: Map<string, PlacedOrder>;
  /** Orders whose cancel answered 200 or 409 (already cancelled by an earlier attempt). */
  cancelled: Set<number>;
  /** Problems found while running (an answer off the spec, a key answered with two orders). */
  violations: string[];
  stop(): Promise<void>;
}

const PAUSE_MS = 25;
const RETRY_MS = 150;

/** Starts one loop per user against `baseUrl`, each cycling through the operations. */
export function startMixedLoad(baseUrl: string, users: LoadUser[], productIds: number[]): MixedLoad {
  const answers: Answered[] = [];
  const placed = new Map<string, PlacedOrder>();
  const cancelled = new Set<number>();
  const violations: string[] = [];
  let running = true;

  const call = async (op: Answered["op"], user: LoadUser, request: Call): Promise<Answered> => {
    const sentAt = Date.now();
    let answer: HttpAnswer;
    try {
      answer = await send(baseUrl, request, { timeoutMs: 30_000 });
    } catch (error) {
      // No answer at all (the process died or hung): recorded as status 0.
      answer = { statusCode: 0, headers: {}, body: String(error), json: () => ({}) as never };
    }
    if (answer.statusCode !== 0) {
      try {
        assertMatchesSpec(request.method, request.path, answer);
      } catch (error) {
        violations.push(`${op} answered off the spec: ${(error as Error).message}`);
      }
    }
    const answered = { sentAt, at: Date.now(), op, user: user.name, status: answer.statusCode, answer };
    answers.push(answered);
    return answered;
  };

  /** Places an order, retrying its Idempotency-Key while the service answers 503, until stopped. */
  const order = async (user: LoadUser, step: number) => {
    const key = randomUUID();
    const first = productIds[step % productIds.length]!;
    const second = productIds[(step + 1) % productIds.length]!;
    const lines = [
      { id: first, quantity: 1 + (step % 3) },
      { id: second, quantity: 1 },
    ];
    for (;;) {
      const { status, answer } = await call("order", user, {
        method: "POST",
        path: "/api/order/",
        token: user.token,
        headers: { "idempotency-key": key },
        body: { products: lines },
      });
      if (status === 201) {
        const body = answer.json();
        const earlier = placed.get(key);
        if (earlier && earlier.id !== body.id) violations.push(`key ${key} answered orders ${earlier.id} and ${body.id}`);
        placed.set(key, {
          id: body.id,
          user: user.name,
          key,
          lines: body.items.map((i: { product_id: number; quantity: number }) => ({ product_id: i.product_id, quantity: i.quantity })),
        });
        return body.id as number;
      }
      if (status !== 503 || !running) return undefined;
      await sleep(RETRY_MS);
    }
  };

  const loop = async (user: LoadUser, index: number) => {
    let lastOrder: number | undefined;
    for (let step = index; running; step++) {
      switch (step % 6) {
        case 0:
        case 3:
          lastOrder = (await order(user, step)) ?? lastOrder;
          break;
        case 1:
          await call("read", user, { method: "GET", path: `/api/product/${productIds[step % productIds.length]}`, token: user.token });
          break;
        case 2:
          await call("list", user, { method: "GET", path: "/api/product/?limit=5", token: user.token });
          break;
        case 4:
          if (lastOrder !== undefined && step % 12 === 4) {
            const id = lastOrder;
            const { status } = await call("cancel", user, { method: "POST", path: `/api/order/${id}/cancel`, token: user.token });
            if (status === 200 || status === 409) cancelled.add(id);
            if (status === 200 || status === 409) lastOrder = undefined;
          }
          break;
        default:
          if (step % 18 === 5) await call("login", user, { method: "POST", path: "/api/token/", body: { name: user.name, password: user.password } });
      }
      await sleep(PAUSE_MS);
    }
  };

  const loops = users.map((user, index) => loop(user, index));
  return {
    answers,
    placed,
    cancelled,
    violations,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** What clients saw between `from` and `to`: every answer's status counted, and the failover window. */
export function summarize(answers: Answered[], from: number, to: number) {
  const inside = answers.filter((a) => a.at >= from && a.at <= to);
  const count = (status: number) => inside.filter((a) => a.status === status).length;
  const first503 = inside.find((a) => a.status === 503);
  const firstOrderAfter = first503 && inside.find((a) => a.op === "order" && a.status === 201 && a.at > first503.at);
  return {
    answers: inside.length,
    503: count(503),
    500: count(500),
    other5xx: inside.filter((a) => a.status >= 500 && a.status !== 503 && a.status !== 500).length,
    noAnswer: count(0),
    unauthorized: count(401),
    /** First 503 to the first order placed after it (ms), 0 when nothing failed. */
    windowMs: first503 ? (firstOrderAfter ? firstOrderAfter.at - first503.at : Number.POSITIVE_INFINITY) : 0,
  };
}
