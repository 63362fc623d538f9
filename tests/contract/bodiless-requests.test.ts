// Operations without a request body (cancel, the deletes), called by the HTTP clients client teams
// use, over real TCP, as those clients really send them: axios's `post(url, undefined)` says
// `Content-Type: application/x-www-form-urlencoded`, kubb's generated fetch client says
// `application/json`, Python's requests and plain fetch say nothing; none sends a body. A
// recording proxy in front of the service keeps the bytes each client sent, and the test checks
// them too, so that a client changing its habits shows up here.
import { execFile } from "node:child_process";
import { createServer, connect, type Server } from "node:net";
import { promisify } from "node:util";
import axios from "axios";
import got from "got";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { assertMatchesSpec } from "../helpers/contract.js";
import { createProduct, viaApp } from "../helpers/factories.js";

type Method = "POST" | "DELETE";
interface Answer {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}
type Client = (method: Method, url: string, token: string) => Promise<Answer>;

const PYTHON_REQUESTS = `
import sys, requests
method, url, token = sys.argv[1:4]
r = requests.request(method, url, headers={"Authorization": "Bearer " + token})
sys.stdout.write(str(r.status_code) + "\\n" + r.headers.get("content-type", "") + "\\n" + r.text)
`;

/** Each client as its generated code (or its user) calls an operation without a body. */
const CLIENTS: Record<string, { call: Client; contentType: Partial<Record<Method, string>> }> = {
  "axios (zodios, orval axios)": {
    call: async (method, url, token) => {
      const headers = { authorization: `Bearer ${token}` };
      const options = { headers, validateStatus: () => true, transformResponse: (text: string) => text };
      const answer = method === "POST" ? await axios.post(url, undefined, options) : await axios.delete(url, options);
      return { statusCode: answer.status, headers: { ...answer.headers }, body: answer.data };
    },
    contentType: { POST: "application/x-www-form-urlencoded" },
  },
  "kubb fetch client": {
    call: async (method, url, token) => {
      const answer = await fetch(url, { method, headers: { "Content-Type": "application/json", authorization: `Bearer ${token}` } });
      return { statusCode: answer.status, headers: Object.fromEntries(answer.headers), body: await answer.text() };
    },
    contentType: { POST: "application/json", DELETE: "application/json" },
  },
  fetch: {
    call: async (method, url, token) => {
      const answer = await fetch(url, { method, headers: { authorization: `Bearer ${token}` } });
      return { statusCode: answer.status, headers: Object.fromEntries(answer.headers), body: await answer.text() };
    },
    contentType: {},
  },
  got: {
    call: async (method, url, token) => {
      const answer = await got(url, { method, headers: { authorization: `Bearer ${token}` }, throwHttpErrors: false, retry: { limit: 0 } });
      return { statusCode: answer.statusCode, headers: answer.headers, body: answer.body };
    },
    contentType: {},
  },
  "python requests": {
    call: async (method, url, token) => {
      const { stdout } = await promisify(execFile)("python3", ["-c", PYTHON_REQUESTS, method, url, token]);
      const [status, contentType, ...body] = stdout.split("\n");
      return { statusCode: Number(status), headers: contentType ? { "content-type": contentType } : {}, body: body.join("\n") };
    },
    contentType: {},
  },
};

let t: TestApp;
let proxy: Server;
let baseUrl: string;
/** What clients sent through the proxy since the last reset. */
let sent = Buffer.alloc(0);

beforeAll(async () => {
  t = await startTestApp();
  const upstream = new URL(await t.app.listen({ host: "127.0.0.1", port: 0 }));
  proxy = createServer((client) => {
    const server = connect(Number(upstream.port), upstream.hostname);
    client.on("data", (chunk: Buffer) => {
      sent = Buffer.concat([sent, chunk]);
    });
    client.pipe(server).pipe(client);
    client.on("error", () => server.destroy());
    server.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const address = proxy.address() as { port: number };
  baseUrl = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  proxy?.close();
  await t?.close();
});

/** Calls through the proxy and returns the answer (checked against the spec) and the one request's head and body. */
async function callThrough(client: Client, method: Method, path: string, token: string) {
  sent = Buffer.alloc(0);
  const answer = await client(method, baseUrl + path, token);
  assertMatchesSpec(method, path, answer);
  const text = sent.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  const head = text.slice(0, end).toLowerCase();
  return { answer, head, body: text.slice(end + 4), contentType: /^content-type: *(.*)$/m.exec(head)?.[1] };
}

/** A user who ordered 4 of a new product with 10 in stock. */
async function userWithOrder() {
  const admin = await t.adminToken();
  const user = await t.createUser();
  const product = await createProduct(viaApp(t), admin, { stock: 10 });
  const placed = await t.request({ method: "POST", url: "/api/order/", token: user.access, payload: { products: [{ id: product.id, quantity: 4 }] } });
  expect(placed.statusCode).toBe(201);
  return { admin, user, product, order: placed.json() as { id: number } };
}

describe.each(Object.entries(CLIENTS))("%s", (_name, { call, contentType }) => {
  it("cancels an order, deletes a product and deletes a user, sending no body", async () => {
    const { admin, user, product, order } = await userWithOrder();

    const cancel = await callThrough(call, "POST", `/api/order/${order.id}/cancel`, user.access);
    expect(cancel.head).toMatch(new RegExp(`^post /api/order/${order.id}/cancel http/1.1`));
    expect(cancel.contentType).toBe(contentType.POST);
    expect(cancel.body).toBe("");
    expect(cancel.head).not.toMatch(/^transfer-encoding/m);
    expect(cancel.answer.statusCode, cancel.answer.body).toBe(200);
    expect(JSON.parse(cancel.answer.body)).toMatchObject({ id: order.id, status: "cancelled", cancelled_at: expect.any(String) });
    expect((await t.request({ url: `/api/product/${product.id}`, token: admin })).json().stock).toBe(10);

    const removeProduct = await callThrough(call, "DELETE", `/api/product/${product.id}`, admin);
    expect(removeProduct.contentType).toBe(contentType.DELETE);
    expect(removeProduct.body).toBe("");
    expect(removeProduct.answer.statusCode, removeProduct.answer.body).toBe(204);
    expect((await t.request({ url: `/api/product/${product.id}`, token: admin })).statusCode).toBe(404);

    const removeUser = await callThrough(call, "DELETE", `/api/user/${user.id}`, user.access);
    expect(removeUser.answer.statusCode, removeUser.answer.body).toBe(204);
    expect((await t.request({ url: `/api/user/${user.id}`, token: admin })).statusCode).toBe(404);
  }, 30_000);
});

describe("an operation without a request body", () => {
  it("still refuses a body it cannot read, with the documented 415, and changes nothing", async () => {
    const { admin, user, product, order } = await userWithOrder();
    for (const contentType of ["application/x-www-form-urlencoded", "text/plain"]) {
      const refused = await t.request({
        method: "POST",
        url: `/api/order/${order.id}/cancel`,
        token: user.access,
        headers: { "content-type": contentType },
        payload: "reason=changed+my+mind",
      });
      expect(refused.statusCode).toBe(415);
      expect(refused.json().code).toBe("unsupported-media-type");
    }
    expect((await t.request({ url: `/api/order/${order.id}`, token: user.access })).json().status).toBe("created");
    for (const url of [`/api/product/${product.id}`, `/api/user/${user.id}`]) {
      const refused = await t.request({ method: "DELETE", url, token: admin, headers: { "content-type": "text/csv" }, payload: "a,b" });
      expect(refused.statusCode).toBe(415);
      expect(refused.json().code).toBe("unsupported-media-type");
    }
    expect((await t.request({ url: `/api/product/${product.id}`, token: admin })).statusCode).toBe(200);
    expect((await t.request({ url: `/api/user/${user.id}`, token: admin })).statusCode).toBe(200);
  });

  it("takes an empty JSON body as no body, while an operation with one still refuses it", async () => {
    const { user, order } = await userWithOrder();
    const cancel = await t.request({
      method: "POST",
      url: `/api/order/${order.id}/cancel`,
      token: user.access,
      headers: { "content-type": "application/json" },
      payload: "",
    });
    expect(cancel.statusCode).toBe(200);
    const create = await t.request({ method: "POST", url: "/api/order/", token: user.access, headers: { "content-type": "application/json" }, payload: "" });
    expect(create.statusCode).toBe(400);
    const form = await t.request({
      method: "POST",
      url: "/api/order/",
      token: user.access,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "",
    });
    expect(form.statusCode).toBe(415);
  });
});
