// The one place tests make products and users. Each takes a Send, so the same factory works
// through Fastify's inject (a TestApp) and over real HTTP (a running process, nginx).
import type { components } from "../../generated/openapi.js";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { assertMatchesSpec } from "./contract.js";
import { send as sendHttp } from "./http-client.js";

export interface SendRequest {
  method: string;
  path: string;
  token?: string;
  body?: unknown;
}
/** Sends a request and returns the answer (already checked against openapi.yaml). */
export type Send = (request: SendRequest) => Promise<{ statusCode: number; body: string; json(): any }>;

/** What viaApp needs of a TestApp (a type of its own: tests/helpers/app.ts imports this module). */
interface Injects {
  request(options: InjectOptions & { token?: string }): Promise<LightMyRequestResponse>;
}

/** Through a TestApp's inject (which checks every answer against the spec). */
export const viaApp =
  (t: Injects): Send =>
  ({ method, path, token, body }) =>
    t.request({ method: method as "GET", url: path, token, ...(body === undefined ? {} : { payload: body as object }) });

/** Over HTTP to `baseUrl`, each answer checked against the spec. */
export const viaHttp =
  (baseUrl: string): Send =>
  async (request) => {
    const answer = await sendHttp(baseUrl, request);
    assertMatchesSpec(request.method, request.path, answer);
    return answer;
  };

let sequence = 0;
/** A name no other test of this run uses. */
export const uniqueName = (prefix: string) => `${prefix} ${process.pid}-${++sequence}`;

export type ProductInput = components["schemas"]["ProductInput"];

/** Creates a product as `adminToken` (a fresh unique name, price 1.5, stock 10 unless given) and returns it. */
export async function createProduct(send: Send, adminToken: string, input: Partial<ProductInput> = {}): Promise<components["schemas"]["Product"]> {
  const body: ProductInput = { name: uniqueName("Product"), price: "1.5", stock: 10, ...input };
  const response = await send({ method: "POST", path: "/api/product/", token: adminToken, body });
  if (response.statusCode !== 201) throw new Error(`creating product ${JSON.stringify(body.name)} answered ${response.statusCode}: ${response.body}`);
  return response.json();
}

/** A password the rules accept, distinct for each user. */
export const validPassword = () => `correct horse ${++sequence} battery`;

/** Registers a user (a fresh unique name and a valid password unless given) and returns it with its password. */
export async function registerUser(
  send: Send,
  input: { name?: string; password?: string } = {},
): Promise<components["schemas"]["User"] & { password: string }> {
  const name = input.name ?? `user-${process.pid}-${++sequence}`;
  const password = input.password ?? validPassword();
  const response = await send({ method: "POST", path: "/api/register/", body: { name, password } });
  if (response.statusCode !== 201) throw new Error(`registering ${name} answered ${response.statusCode}: ${response.body}`);
  return { ...response.json(), password };
}
