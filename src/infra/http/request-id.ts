import { randomFillSync } from "node:crypto";
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
  return typeof sent === "string" && CLIENT_REQUEST_ID.test(sent) ? sent : newRequestId();
}

/**
 * uuid's v7 asks the CSPRNG for 16 bytes per id (a native call that was a few % of a read's CPU);
 * here the random bytes come from a pool refilled every 256 ids, and the time and counter
 * fields keep ids monotonic within this process as uuid's own state does.
 */
const randomPool = new Uint8Array(16 * 256);
let poolOffset = randomPool.length;
const clock = { msecs: -Infinity, seq: 0 };

function newRequestId(): string {
  if (poolOffset === randomPool.length) {
    randomFillSync(randomPool);
    poolOffset = 0;
  }
  const random = randomPool.subarray(poolOffset, (poolOffset += 16));
  const now = Date.now();
  if (now > clock.msecs) {
    clock.msecs = now;
    // 31 random bits start each millisecond's counter, as RFC 9562's method 1 (and uuid) do.
    clock.seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
  } else {
    clock.seq = (clock.seq + 1) | 0;
    if (clock.seq === 0) clock.msecs++;
  }
  return uuidv7({ random, msecs: clock.msecs, seq: clock.seq });
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
