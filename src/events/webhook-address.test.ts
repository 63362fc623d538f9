import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { isPublicAddress, urlRefusal } from "./webhook-address.js";
import { sendWebhook } from "./webhook-sender.js";

describe("webhook addresses", () => {
  it("tells public addresses from loopback, private, link-local and other special ones", () => {
    for (const address of ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"]) expect(isPublicAddress(address), address).toBe(true);
    for (const address of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "fe80::1",
      "fd00::1",
      "::ffff:127.0.0.1",
      "224.0.0.1",
      "not-an-ip",
    ]) {
      expect(isPublicAddress(address), address).toBe(false);
    }
  });

  it("refuses, in production, URLs that are not https or name a non-public address", () => {
    const production = { requireHttps: true, allowPrivate: false };
    expect(urlRefusal("https://hooks.example.com/orders", production)).toBeNull();
    expect(urlRefusal("http://hooks.example.com/orders", production)).toMatch(/https/);
    for (const url of [
      "https://127.0.0.1/",
      "https://[::1]/",
      "https://169.254.169.254/latest",
      "https://localhost/",
      "https://api.localhost./",
      "https://10.0.0.5:8443/",
    ]) {
      expect(urlRefusal(url, production), url).toMatch(/loopback/);
    }
    expect(urlRefusal("http://127.0.0.1:9000/", { requireHttps: false, allowPrivate: true })).toBeNull();
  });

  it("checks the resolved address when it connects: a name resolving to loopback gets nothing unless allowed", async () => {
    const hits: string[] = [];
    const server = createServer((request, response) => {
      hits.push(request.url ?? "");
      response.writeHead(204).end();
    }).listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    try {
      const blocked = await sendWebhook(`http://localhost:${port}/a`, {}, "{}", { timeoutMs: 2_000, allowPrivate: false });
      expect(blocked.status).toBeUndefined();
      expect(blocked.error).toMatch(/not a public address/);
      const literal = await sendWebhook(`http://127.0.0.1:${port}/b`, {}, "{}", { timeoutMs: 2_000, allowPrivate: false });
      expect(literal.error).toMatch(/not a public address/);
      expect(hits).toEqual([]);
      const allowed = await sendWebhook(`http://localhost:${port}/c`, {}, "{}", { timeoutMs: 2_000, allowPrivate: true });
      expect(allowed.status).toBe(204);
      expect(hits).toEqual(["/c"]);
    } finally {
      server.close();
    }
  });

  it("does not follow redirects: a 3xx is a failed attempt", async () => {
    const hits: string[] = [];
    const server = createServer((request, response) => {
      hits.push(request.url ?? "");
      response.writeHead(307, { location: "/elsewhere" }).end();
    }).listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    try {
      const answer = await sendWebhook(`http://127.0.0.1:${port}/hook`, {}, "{}", { timeoutMs: 2_000, allowPrivate: true });
      expect(answer.status).toBe(307);
      expect(hits).toEqual(["/hook"]);
    } finally {
      server.close();
    }
  });
});
