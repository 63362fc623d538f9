// The scripted flow with @hey-api/openapi-ts's default fetch client: `client.setConfig` gives the
// base URL and `auth` the bearer token; throwOnError makes each call answer its data or throw.
import { client } from "./client/client.gen.ts";
import { cancelOrder, createOrder, createProduct, getOrder, listProducts, obtainToken, registerUser } from "./client/sdk.gen.ts";
import { type FlowInput, readInput, report } from "./flow-io.ts";

const input: FlowInput = readInput();
client.setConfig({ baseUrl: input.baseUrl, throwOnError: true });
const as = (token: string) => ({ auth: token, throwOnError: true as const });

const admin = (await obtainToken({ body: input.admin, throwOnError: true })).data;
const product = (await createProduct({ ...as(admin.access), body: { name: input.productName, price: "2.5", stock: 10 } })).data;
await registerUser({ body: input.user, throwOnError: true });
const user = (await obtainToken({ body: input.user, throwOnError: true })).data;
const order = (await createOrder({ ...as(user.access), body: { products: [{ id: product.id, quantity: 3 }] } })).data;
const readBack = (await getOrder({ ...as(user.access), path: { id: order.id } })).data;
const page = (await listProducts({ ...as(user.access), query: { keyword: input.keyword, max_price: "3" } })).data;
const cancelled = (await cancelOrder({ ...as(user.access), path: { id: order.id } })).data;
report({ product, order, readBack, listed: page.results.map((p) => p.name), cancelled });
