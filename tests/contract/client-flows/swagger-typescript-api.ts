// The scripted flow with swagger-typescript-api's fetch client: `baseUrl` and a `securityWorker`
// (its documented hook for credentials) are given to the Api class; errors reject.
import { Api } from "./client/client.ts";
import { type FlowInput, readInput, report } from "./flow-io.ts";

const input: FlowInput = readInput();
const client = new Api<string>({ baseUrl: input.baseUrl, securityWorker: (token) => (token ? { headers: { Authorization: `Bearer ${token}` } } : {}) });
const { api } = client;

const admin = (await api.obtainToken(input.admin)).data;
client.setSecurityData(admin.access);
const product = (await api.createProduct({ name: input.productName, price: "2.5", stock: 10 })).data;
await api.registerUser(input.user);
const user = (await api.obtainToken(input.user)).data;
client.setSecurityData(user.access);
const order = (await api.createOrder({ products: [{ id: product.id, quantity: 3 }] })).data;
const readBack = (await api.getOrder(order.id)).data;
const page = (await api.listProducts({ keyword: input.keyword, max_price: "3" })).data;
const cancelled = (await api.cancelOrder(order.id)).data;
report({ product, order, readBack, listed: page.results.map((p) => p.name), cancelled });
