import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/**
 * Read-your-writes with a read replica (DATABASE_READ_URL): after a client's write succeeds, that
 * client's reads go to the primary for DB_READ_YOUR_WRITES_MS, long enough for a replica within
 * the allowed lag (DB_READ_MAX_LAG_MS) to have replayed it. A client is its bearer token (kept
 * only as a hash); requests without one are never writers. Per process: behind a load balancer
 * without affinity another process may serve the next read from the replica, still within the
 * allowed lag.
 */
export class ReadYourWrites {
  private readonly writers = new Map<string, number>();
  private readonly current = new AsyncLocalStorage<{ client?: string }>();

  private readonly windowMs: number;

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  /** Runs `next` as the request of `client` (undefined: an anonymous one). */
  within(client: string | undefined, next: () => void): void {
    this.current.run({ client }, next);
  }

  wrote(client: string): void {
    const now = Date.now();
    if (this.writers.size > 10_000) for (const [key, until] of this.writers) if (until <= now) this.writers.delete(key);
    this.writers.set(client, now + this.windowMs);
  }

  /** True while the current request's client wrote within the window. */
  readsFromPrimary(): boolean {
    const client = this.current.getStore()?.client;
    return client !== undefined && (this.writers.get(client) ?? 0) > Date.now();
  }
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function clientOf(authorization: string | undefined): string | undefined {
  const token = authorization?.startsWith("Bearer ") ? authorization.slice(7) : undefined;
  return token ? createHash("sha256").update(token).digest("base64url") : undefined;
}

/** Every request runs as its client; a successful write makes that client a recent writer. */
export const readYourWritesPlugin = fp(
  async (app: FastifyInstance, options: { routing: ReadYourWrites }) => {
    const { routing } = options;
    app.addHook("onRequest", (request, _reply, done) => routing.within(clientOf(request.headers.authorization), done));
    // Before the answer leaves, so the client's next request already counts as a writer's.
    app.addHook("onSend", async (request, reply) => {
      if (SAFE_METHODS.has(request.method) || reply.statusCode >= 400) return;
      const client = clientOf(request.headers.authorization);
      if (client) routing.wrote(client);
    });
  },
  { name: "read-your-writes", fastify: "5.x" },
);
