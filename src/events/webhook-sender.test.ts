import { once } from "node:events";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendWebhook } from "./webhook-sender.js";

describe("a webhook attempt's timeout", () => {
  const trickling = new Set<ServerResponse>();
  const server = createServer((_request, response) => {
    // Headers at once, then a byte every 100 ms: no single wait reaches undici's idle timeouts.
    response.writeHead(200, { "content-type": "text/plain" });
    trickling.add(response);
    const drip = setInterval(() => response.write("."), 100);
    response.on("close", () => {
      clearInterval(drip);
      trickling.delete(response);
    });
  });
  let base = "";

  beforeAll(async () => {
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    for (const response of trickling) response.destroy();
    server.close();
  });

  it("covers the whole exchange: an answer still coming after it is a failed attempt", async () => {
    const started = performance.now();
    const answer = await sendWebhook(`${base}/slow`, {}, "{}", { timeoutMs: 600, allowPrivate: true });
    const took = performance.now() - started;
    expect(answer.status).toBeUndefined();
    expect(answer.error).toBe("no complete answer within 600 ms");
    expect(took).toBeGreaterThanOrEqual(590);
    expect(took).toBeLessThan(5_000);
  });
});
