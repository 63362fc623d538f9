import type { IncomingMessage } from "node:http";
import type { FastifyInstance } from "fastify";
import { v7 as uuidv7 } from "uuid";

export const REQUEST_ID_HEADER = "x-request-id";

/** What a client may send as its own request id: short, printable, no spaces or quotes. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$/;

/**
 * A client's well-formed X-Request-Id is kept (so its logs and ours share the id); otherwise a
 * UUIDv7: unique across processes and restarts, and sortable by time.
 */
export function requestId(request: IncomingMessage): string {
  const sent = request.headers[REQUEST_ID_HEADER];
  return typeof sent === "string" && CLIENT_REQUEST_ID.test(sent) ? sent : uuidv7();
}

/** Every answer, errors and unknown routes included, carries the id it is logged under. */
export function echoRequestIds(app: FastifyInstance): void {
  // A callback hook, not an async one: that would make every send asynchronous, and hooks that
  // answer early (the overload guard) rely on the reply being sent when send() returns.
  app.addHook("onSend", (request, reply, payload, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done(null, payload);
  });
}
