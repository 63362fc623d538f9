// The scripted flow with oazapfts's client: `defaults` gives the base URL, `ok()` (its runtime's
// documented helper) answers the data of a success or throws with the problem document.
import { ok } from "@oazapfts/runtime";
import { cancelOrder, createOrder, createProduct, defaults, getOrder, listProducts, obtainToken, registerUser } from "./client/client.ts";
import { type FlowInput, readInput, report } from "./flow-io.ts";

const input: FlowInput = readInput();
defaults.baseUrl = input.baseUrl;
const as = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

const admin = await ok(obtainToken(input.admin));
const product = await ok(createProduct({ name: input.productName, price: "2.5", stock: 10 }, as(admin.access)));
await ok(registerUser(input.user));
const user = await ok(obtainToken(input.user));
const order = await ok(createOrder({ products: [{ id: product.id, quantity: 3 }] }, {}, as(user.access)));
const readBack = await ok(getOrder(order.id, as(user.access)));
const page = await ok(listProducts({ keyword: input.keyword, maxPrice: "3" }, as(user.access)));
const cancelled = await ok(cancelOrder(order.id, as(user.access)));
report({ product, order, readBack, listed: page.results.map((p) => p.name), cancelled });
