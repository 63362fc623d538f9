// A webhook endpoint for tests: a real HTTP server on loopback that verifies every delivery's
// signature with the standardwebhooks package and answers as the test tells it to.
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface Received {
  path: string;
  webhookId: string;
  timestamp: string;
  signatures: string[];
  body: string;
  payload: { type: string; timestamp: string; data: Record<string, unknown> & { id: unknown } };
  /** Which of the secrets known for the path verified it. */
  verifiedWith: string[];
  /** What the receiver answered (or "hang" when it kept the request past the timeout). */
  answered: number | "hang";
  at: number;
}

/** Answers a request: a status (and headers), or a delay before answering. */
export type Behaviour = (request: Omit<Received, "answered" | "at">, attempt: number) => { status: number; headers?: Record<string, string>; delayMs?: number };

export interface Receiver {
  url(path?: string): string;
  port: number;
  received: Received[];
  /** Tells the receiver the secrets a path's deliveries may be signed with (every one must verify with at least one). */
  trust(path: string, ...secrets: string[]): void;
  answer(path: string, behaviour: Behaviour): void;
  /** Deliveries whose signature did not verify with any known secret: always expected empty. */
  unverified: Received[];
  /** Stops listening (connections are refused) until `start` again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
  waitFor(predicate: (received: Received[]) => boolean, timeoutMs?: number): Promise<void>;
}

export async function startReceiver(port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const unverified: Received[] = [];
  const secrets = new Map<string, string[]>();
  const behaviours = new Map<string, Behaviour>();
  const attempts = new Map<string, number>();
  let server: Server;
  let boundPort = port;

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const path = request.url ?? "/";
    const headers = {
      "webhook-id": String(request.headers["webhook-id"] ?? ""),
      "webhook-timestamp": String(request.headers["webhook-timestamp"] ?? ""),
      "webhook-signature": String(request.headers["webhook-signature"] ?? ""),
    };
    const verifiedWith = (secrets.get(path) ?? []).filter((secret) => {
      try {
        new Webhook(secret).verify(body, headers);
        return true;
      } catch {
        return false;
      }
    });
    const base = {
      path,
      webhookId: headers["webhook-id"],
      timestamp: headers["webhook-timestamp"],
      signatures: headers["webhook-signature"].split(" "),
      body,
      payload: JSON.parse(body),
      verifiedWith,
    };
    const attempt = (attempts.get(`${path} ${base.webhookId}`) ?? 0) + 1;
    attempts.set(`${path} ${base.webhookId}`, attempt);
    const behaviour: Behaviour = behaviours.get(path) ?? (() => ({ status: 204 }));
    const { status, headers: extra = {}, delayMs = 0 } = behaviour(base, attempt);
    // Recorded on arrival, so `received` is in the order the attempts came.
    const record: Received = { ...base, answered: delayMs > 0 ? "hang" : status, at: Date.now() };
    received.push(record);
    if (verifiedWith.length === 0) unverified.push(record);
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (!response.destroyed) response.writeHead(status, extra).end();
  };

  const start = async () => {
    server = createServer((request, response) => void handle(request, response));
    server.listen(boundPort, "127.0.0.1");
    await once(server, "listening");
    boundPort = (server.address() as AddressInfo).port;
  };
  const stop = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  await start();
  return {
    url: (path = "/") => `http://127.0.0.1:${boundPort}${path}`,
    get port() {
      return boundPort;
    },
    received,
    unverified,
    trust: (path, ...keys) => secrets.set(path, [...(secrets.get(path) ?? []), ...keys]),
    answer: (path, behaviour) => behaviours.set(path, behaviour),
    stop,
    start,
    close: stop,
    async waitFor(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline)
          throw new Error(
            `the receiver did not get what was expected within ${timeoutMs} ms; got ${received.length}: ${JSON.stringify(received.map((r) => [r.path, r.payload.type, r.answered]))}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}
