// The scripted flow with kubb's fetch client (@kubb/plugin-client, client: "fetch"), as a client
// team writes it: setConfig is kubb's documented way to give the base URL and headers.
import { setConfig } from "@kubb/plugin-client/clients/fetch";
import { cancelOrder, createOrder, createProduct, getOrder, listProducts, obtainToken, registerUser } from "./client/index.ts";
import { type FlowInput, readInput, report } from "./flow-io.ts";

const input: FlowInput = readInput();
const json = { "Content-Type": "application/json" };
setConfig({ baseURL: input.baseUrl, headers: json });
const as = (token: string) => ({ headers: { ...json, Authorization: `Bearer ${token}` } });

const admin = await obtainToken(input.admin);
const product = await createProduct({ name: input.productName, price: "2.5", stock: 10 }, as(admin.access));
await registerUser(input.user);
const user = await obtainToken(input.user);
const order = await createOrder({ products: [{ id: product.id, quantity: 3 }] }, undefined, as(user.access));
const readBack = await getOrder(order.id, as(user.access));
const page = await listProducts({ keyword: input.keyword, max_price: "3" }, undefined, as(user.access));
const cancelled = await cancelOrder(order.id, as(user.access));
report({ product, order, readBack, listed: page.results.map((p) => p.name), cancelled });
