// Issue 27, finding 7: "answers during shutdown are not problems". A request that reaches the
// service on a kept-alive connection while it drains got Fastify's own JSON 503, without `code`,
// `Retry-After` or `X-Request-Id`.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";

/** Everything the server writes on one raw connection until it closes it. */
function rawConnection(port: number) {
  const socket = connect({ host: "127.0.0.1", port });
  let received = "";
  socket.on("data", (chunk) => {
    received += chunk.toString("utf8");
  });
  const closed = new Promise<string>((resolve) => socket.on("close", () => resolve(received)));
  return { socket, closed, received: () => received };
}

describe("finding 7: answers during a shutdown drain are problem documents", () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await startTestApp();
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    port = (t.app.server.address() as { port: number }).port;
  });
  afterAll(() => t.close());

  it("a request pipelined behind one in flight when closing starts gets a 503 problem with code, Retry-After and X-Request-Id", async () => {
    const { socket, closed, received } = rawConnection(port);
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    const body = JSON.stringify({ name: "nobody-at-all", password: "wrong password" });
    // The first request's headers and half its body: it is in flight when the app starts closing.
    socket.write(
      `POST /api/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: keep-alive\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closing = t.app.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The rest of its body, and a second request on the same kept-alive connection.
    socket.write(`${body.slice(10)}GET /api/product/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
    const text = await closed;
    await closing;
    const answers = text.split(/(?=HTTP\/1\.1 )/);
    expect(answers, received()).toHaveLength(2);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 401 /);
    const [head, payload] = answers[1]!.split("\r\n\r\n");
    // Before: {"error":"Service Unavailable","message":"Service Unavailable","statusCode":503} as application/json.
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head).toMatch(/^content-type: application\/problem\+json/im);
    expect(head).toMatch(/^retry-after: \d+/im);
    expect(head).toMatch(/^x-request-id: \S+/im);
    expect(head).toMatch(/^connection: close/im);
    expect(JSON.parse(payload!)).toMatchObject({ status: 503, code: "service-unavailable", detail: expect.stringContaining("shutting down") });
  });
});
