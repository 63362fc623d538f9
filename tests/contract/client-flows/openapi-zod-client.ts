// The scripted flow with openapi-zod-client's zodios client: zod validates every answer, the
// errors too (generated with --media-type-expr, which lets application/problem+json in).
import { isErrorFromAlias } from "@zodios/core";
import { createApiClient } from "./client/client.ts";
import { type FlowInput, readInput, report } from "./flow-io.ts";

const input: FlowInput = readInput();
const client = createApiClient(input.baseUrl);
const as = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

const admin = await client.obtainToken(input.admin);
const product = await client.createProduct({ name: input.productName, price: "2.5", stock: 10 }, as(admin.access));
await client.registerUser(input.user);
const user = await client.obtainToken(input.user);
const order = await client.createOrder({ products: [{ id: product.id, quantity: 3 }] }, as(user.access));
const readBack = await client.getOrder({ ...as(user.access), params: { id: order.id } });
const page = await client.listProducts({ ...as(user.access), queries: { keyword: input.keyword, max_price: "3" } });
const cancelled = await client.cancelOrder(undefined, { ...as(user.access), params: { id: order.id } });
// A second cancel is a 409 problem document, which must match the error schema the spec gives.
let refusal: unknown;
try {
  await client.cancelOrder(undefined, { ...as(user.access), params: { id: order.id } });
} catch (error) {
  refusal = isErrorFromAlias(client.api, "cancelOrder", error) ? { status: error.response.status, code: error.response.data.code } : String(error);
}
report({ product, order, readBack, listed: page.results.map((p) => p.name), cancelled, refusal });
