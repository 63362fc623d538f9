import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";

/**
 * The requests being handled and not answered yet, whether or not their client is still there.
 * Node's server.close() waits only for open connections, so a request whose client has gone (a
 * load generator that stopped, a client that timed out) may still be waiting for the database
 * when the app closes; app.ts waits for these before closing the database and the rest under them.
 */
export interface InFlight {
  readonly count: number;
  /** Resolves true once no request is in flight, or false after `timeoutMs` with some still running. */
  settled(timeoutMs: number): Promise<boolean>;
}

declare module "fastify" {
  interface FastifyInstance {
    inFlight: InFlight;
  }
}

/**
 * Counts requests from the moment their body has been read (preValidation) to the moment their
 * answer is handed over (onSend), not when it reaches the client. Before that (in onRequest hooks
 * such as authentication), a request whose client goes away may never get further: Fastify can no
 * longer read a body it had not read yet, and leaves the request as it is.
 */
export const inFlightPlugin = fp(
  async (app: FastifyInstance) => {
    const running = new WeakSet<FastifyRequest>();
    let count = 0;
    let waiters: (() => void)[] = [];
    const finished = (request: FastifyRequest) => {
      if (!running.delete(request)) return;
      count--;
      if (count > 0) return;
      for (const wake of waiters) wake();
      waiters = [];
    };
    app.addHook("preValidation", (request, _reply, done) => {
      running.add(request);
      count++;
      done();
    });
    app.addHook("onSend", (request, _reply, payload, done) => {
      finished(request);
      done(null, payload);
    });
    app.decorate("inFlight", {
      get count() {
        return count;
      },
      async settled(timeoutMs: number) {
        if (count === 0) return true;
        let timer: NodeJS.Timeout | undefined;
        const drained = new Promise<true>((resolve) => waiters.push(() => resolve(true)));
        const late = new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        });
        try {
          return await Promise.race([drained, late]);
        } finally {
          clearTimeout(timer);
        }
      },
    } satisfies InFlight);
  },
  { name: "in-flight", fastify: "5.x" },
);
