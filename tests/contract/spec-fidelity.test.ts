// The answers that used to leave the spec: malformed HTTP, wrong methods, /metrics without a
// token, non-canonical paths in links, links built from an untrusted Host, the servers list and
// the docs pages. Each answer is also checked against openapi.yaml.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ajv2020 } from "ajv/dist/2020.js";
import { loadSpec } from "../../src/infra/spec.js";
import { isAllowedHost } from "../../src/infra/http/pagination.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { assertMatchesSpec } from "../helpers/contract.js";
import { type SpecOperation, specOperations, urlFor } from "../helpers/spec-operations.js";

type Json = Record<string, any>;
const spec = loadSpec() as Json;

let t: TestApp;
let baseUrl: string;
beforeAll(async () => {
  t = await startTestApp();
  baseUrl = await t.app.listen({ host: "127.0.0.1", port: 0 });
});
afterAll(() => t.close());

/** Writes raw bytes to the listening server and reads until it closes the connection. */
function rawRequest(bytes: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => socket.write(bytes));
    let data = "";
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(bytes.slice(0, 60))}`)));
    socket.on("data", (chunk) => (data += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => {
      const [head = "", body = ""] = data.split("\r\n\r\n");
      const [statusLine = "", ...lines] = head.split("\r\n");
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body });
    });
  });
}

describe("malformed HTTP (raw TCP)", () => {
  const ajv = new Ajv2020({ strict: false });
  ajv.addSchema(spec, "openapi.yaml");
  const isDocumentedProblem = (body: unknown) =>
    ajv.validate({ $ref: "openapi.yaml#/components/responses/MalformedRequest/content/application~1problem+json/schema" }, body);

  it.each([
    ["a Content-Length that is not a number", "GET /api/product/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n", 400, "/api/product/"],
    ["a garbage request line", "this is not http\r\n\r\n", 400, "/"],
    ["a header without a colon", "GET /healthz HTTP/1.1\r\nHost: localhost\r\nno-colon-here\r\n\r\n", 400, "/healthz"],
    [
      "Content-Length together with Transfer-Encoding",
      "POST /api/order/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      400,
      "/api/order/",
    ],
    ["headers larger than the parser accepts", `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431, "/healthz"],
  ])("answers %s with a problem document", async (_name, bytes, status, instance) => {
    const answer = await rawRequest(bytes);
    expect(answer.status).toBe(status);
    expect(answer.headers["content-type"]).toBe("application/problem+json");
    expect(Number(answer.headers["content-length"])).toBe(Buffer.byteLength(answer.body));
    const body = JSON.parse(answer.body);
    expect(isDocumentedProblem(body), ajv.errorsText()).toBe(true);
    expect(body).toMatchObject({ status, instance, code: status === 431 ? "headers-too-large" : "malformed-request" });
  });

  it("documents the parser's answers in the spec", () => {
    expect(spec.components.responses.MalformedRequest.content["application/problem+json"].schema.$ref).toBe("#/components/schemas/Problem");
    expect(spec.info.description).toMatch(/Content-Length.*Transfer-Encoding/s);
  });
});

describe("answers every operation can give before it is reached", () => {
  // Headers too large (431) and too slow (408) can meet any operation, so each documents both.
  const requestLine = (op: SpecOperation) => `${op.method} ${urlFor(op)} HTTP/1.1\r\nHost: localhost\r\n`;
  const checked = (op: SpecOperation, answer: Awaited<ReturnType<typeof rawRequest>>) => {
    assertMatchesSpec(op.method, urlFor(op), { statusCode: answer.status, headers: answer.headers, body: answer.body });
    return answer.status;
  };

  it("431 for every operation", async () => {
    for (const op of specOperations) {
      const answer = await rawRequest(`${requestLine(op)}X-Big: ${"a".repeat(20_000)}\r\n\r\n`);
      expect(checked(op, answer), op.operationId).toBe(431);
    }
  });

  it("408 for every operation, all at once", async () => {
    const answers = await Promise.all(specOperations.map(async (op) => checked(op, await rawRequest(requestLine(op)))));
    expect(answers).toEqual(specOperations.map(() => 408));
  }, 20_000);
});

describe("a wrong method on a documented path", () => {
  it.each([
    ["DELETE", "/api/order/", "GET, HEAD, POST"],
    ["PUT", "/api/order/", "GET, HEAD, POST"],
    ["GET", "/api/token/", "POST"],
    ["GET", "/api/token", "POST"],
    ["POST", "/api/order/7", "GET, HEAD"],
    ["DELETE", "/healthz", "GET, HEAD"],
  ])("%s %s is 405 with Allow: %s", async (method, url, allow) => {
    const response = await t.request({ method: method as "GET", url, token: await t.adminToken() });
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe(allow);
    expect(response.json()).toMatchObject({ code: "method-not-allowed", status: 405, title: "Method Not Allowed", instance: url });
  });

  it("still answers 404 for a path that is not documented", async () => {
    expect((await t.request({ method: "DELETE", url: "/api/orders/" })).statusCode).toBe(404);
  });

  it("is documented with its Allow header", () => {
    const response = spec.components.responses.MethodNotAllowed;
    expect(response.headers.Allow.required).toBe(true);
    expect(response.content["application/problem+json"].example.code).toBe("method-not-allowed");
  });
});

describe("/metrics without METRICS_TOKEN", () => {
  it("needs no token, and the spec says the token is optional", async () => {
    expect(t.config.METRICS_TOKEN).toBeUndefined();
    expect((await t.request({ url: "/metrics" })).statusCode).toBe(200);
    expect(spec.paths["/metrics"].get.security).toEqual([{}, { metricsToken: [] }]);
  });
});

describe("pagination links", () => {
  let token: string;
  beforeAll(async () => {
    token = await t.adminToken();
    await t.createUser();
    for (const name of ["Link one", "Link two", "Link three"]) {
      await t.request({ method: "POST", url: "/api/product/", token, payload: { name, price: "1.5", stock: 3 } });
    }
  });
  const page = async (app: TestApp, url: string, host: string) => {
    const response = await app.request({ url, token: app === t ? token : await app.adminToken(), headers: { host } });
    expect(response.statusCode).toBe(200);
    return response.json() as { next: string | null; previous: string | null };
  };

  it("always use the documented path, whichever form was asked", async () => {
    const body = await page(t, "/api/product?keyword=link&limit=1&offset=1", "localhost:8000");
    expect(body.next).toBe("http://localhost:8000/api/product/?keyword=link&limit=1&offset=2");
    expect(body.previous).toBe("http://localhost:8000/api/product/?keyword=link&limit=1");
    const users = await page(t, "/api/user?limit=1", "localhost:8000");
    expect(users.next).toBe("http://localhost:8000/api/user/?limit=1&offset=1");
  });

  it("never copy a Host that is not allowed: they become relative", async () => {
    const body = await page(t, "/api/product/?keyword=link&limit=1", "evil.example");
    expect(body.next).toBe("/api/product/?keyword=link&limit=1&offset=1");
  });

  it("start with PUBLIC_URL when it is set, whatever the Host", async () => {
    const configured = await startTestApp({ PUBLIC_URL: "https://shop.example/orders/" });
    try {
      await configured.request({ method: "POST", url: "/api/product/", token: await configured.adminToken(), payload: { name: "A", price: "1", stock: 1 } });
      await configured.request({ method: "POST", url: "/api/product/", token: await configured.adminToken(), payload: { name: "B", price: "1", stock: 1 } });
      const body = await page(configured, "/api/product?limit=1", "evil.example");
      expect(body.next).toBe("https://shop.example/orders/api/product/?limit=1&offset=1");
    } finally {
      await configured.close();
    }
  }, 60_000); // starts an app of its own: most of the default 20 s on a busy machine

  it("match ALLOWED_HOSTS by name (any port) or by name and port", () => {
    expect(isAllowedHost("localhost:8000", "localhost,127.0.0.1,[::1]")).toBe(true);
    expect(isAllowedHost("[::1]:8000", "localhost,127.0.0.1,[::1]")).toBe(true);
    expect(isAllowedHost("shop.example:8443", "shop.example:443")).toBe(false);
    expect(isAllowedHost("Shop.Example:443", "shop.example:443")).toBe(true);
    expect(isAllowedHost("localhost.evil.example", "localhost")).toBe(false);
    expect(isAllowedHost("anything", "*")).toBe(true);
    expect(isAllowedHost("localhost", "")).toBe(false);
    expect(isAllowedHost(undefined, "localhost")).toBe(false);
  });
});

describe("servers", () => {
  it("lists a usable absolute URL for local development first, and the relative one", () => {
    const urls = (spec.servers as { url: string }[]).map((s) => s.url);
    expect(urls[0]).toBe("http://localhost:8000");
    expect(new URL(urls[0]!).protocol).toBe("http:");
    expect(urls).toContain("/");
  });

  it("are listed relative-first for the docs pages, which call the server that serves them", async () => {
    const response = await t.app.inject({ url: "/docs/json" });
    expect(response.json().servers.map((s: { url: string }) => s.url)).toEqual(["/", "http://localhost:8000"]);
  });
});

describe("Redoc", () => {
  it("is served at /redoc from the npm package, with a CSP that allows nothing from elsewhere", async () => {
    const page = await t.app.inject({ url: "/redoc" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.body).toContain('<script src="/redoc/redoc.standalone.js">');
    expect(page.body).not.toMatch(/https?:\/\//);
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    const script = await t.app.inject({ url: "/redoc/redoc.standalone.js" });
    expect(script.statusCode).toBe(200);
    expect(script.headers["content-type"]).toMatch(/^text\/javascript/);
    expect(script.body.length).toBeGreaterThan(500_000);
  });
});
