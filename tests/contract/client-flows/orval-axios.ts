// The scripted flow with orval's axios client: the generated factory takes the axios instance
// (with the base URL), and the token goes into that instance's default headers. Errors reject.
import axios from "axios";
import { getOrderServiceAPI } from "./client/client.ts";
import { type FlowInput, readInput, report } from "./flow-io.ts";

const input: FlowInput = readInput();
const http = axios.create({ baseURL: input.baseUrl });
const api = getOrderServiceAPI(http);
const logIn = async (credentials: FlowInput["admin"]) => {
  http.defaults.headers.common.Authorization = `Bearer ${(await api.obtainToken(credentials)).data.access}`;
};

await logIn(input.admin);
const product = (await api.createProduct({ name: input.productName, price: "2.5", stock: 10 })).data;
await api.registerUser(input.user);
await logIn(input.user);
const order = (await api.createOrder({ products: [{ id: product.id, quantity: 3 }] })).data;
const readBack = (await api.getOrder(order.id)).data;
const page = (await api.listProducts({ keyword: input.keyword, max_price: "3" })).data;
// axios sends a bodiless POST as application/x-www-form-urlencoded: the service takes it.
const cancelled = (await api.cancelOrder(order.id)).data;
report({ product, order, readBack, listed: page.results.map((p) => p.name), cancelled });
