// The scripted flow with orval's fetch client: each call answers `{ data, status, headers }`
// typed by status, so the flow narrows on the success status and stops on anything else.
import { cancelOrder, createOrder, createProduct, getOrder, listProducts, obtainToken, registerUser } from "./client/client.ts";
import { type FlowInput, readInput, report } from "./flow-io.ts";

const input: FlowInput = readInput();
let auth: RequestInit = {};

function expectStatus<A extends { status: number }, S extends A["status"]>(answer: A, status: S): Extract<A, { status: S }> {
  if (answer.status !== status) throw new Error(`expected ${status}, got ${answer.status}: ${JSON.stringify(answer)}`);
  return answer as Extract<A, { status: S }>;
}
const logIn = async (credentials: FlowInput["admin"]) => {
  auth = { headers: { Authorization: `Bearer ${expectStatus(await obtainToken(credentials), 200).data.access}` } };
};

await logIn(input.admin);
const product = expectStatus(await createProduct({ name: input.productName, price: "2.5", stock: 10 }, auth), 201).data;
expectStatus(await registerUser(input.user), 201);
await logIn(input.user);
const order = expectStatus(await createOrder({ products: [{ id: product.id, quantity: 3 }] }, auth), 201).data;
const readBack = expectStatus(await getOrder(order.id, auth), 200).data;
const page = expectStatus(await listProducts({ keyword: input.keyword, max_price: "3" }, auth), 200).data;
const cancelled = expectStatus(await cancelOrder(order.id, auth), 200).data;
report({ product, order, readBack, listed: page.results.map((p) => p.name), cancelled });
