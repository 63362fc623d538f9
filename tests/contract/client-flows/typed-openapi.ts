// The scripted flow with typed-openapi's client, which leaves the HTTP call to a `fetcher` the
// team writes (as its README shows): here fetch, JSON bodies and the current bearer token.
import { createApiClient, type Fetcher } from "./client/client.ts";
import { type FlowInput, readInput, report } from "./flow-io.ts";

const input: FlowInput = readInput();
let token: string | undefined;
const fetcher: Fetcher = {
  fetch: ({ method, url, urlSearchParams, parameters }) => {
    const body = (parameters as { body?: unknown } | undefined)?.body;
    if (urlSearchParams) url.search = urlSearchParams.toString();
    return fetch(url, {
      method: method.toUpperCase(),
      headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  },
};
const api = createApiClient(fetcher, input.baseUrl);

const admin = await api.post("/api/token/", { body: input.admin });
token = admin.access;
const product = await api.post("/api/product/", { body: { name: input.productName, price: "2.5", stock: 10 } });
await api.post("/api/register/", { body: input.user });
token = undefined;
const user = await api.post("/api/token/", { body: input.user });
token = user.access;
// typed-openapi makes the header object required even when every header in it is optional.
const order = await api.post("/api/order/", { header: {}, body: { products: [{ id: product.id, quantity: 3 }] } });
const readBack = await api.get("/api/order/{id}", { path: { id: order.id } });
const page = await api.get("/api/product/", { header: {}, query: { keyword: input.keyword, max_price: "3" } });
const cancelled = await api.post("/api/order/{id}/cancel", { path: { id: order.id } });
report({ product, order, readBack, listed: page.results.map((p) => p.name), cancelled });
