import createClient, { type Client } from "openapi-fetch";
import type { paths } from "../generated/openapi.js";

export type OrderServiceClient = Client<paths>;

export interface ClientOptions {
  /** The access token, or a function returning the current one (e.g. after a refresh). */
  token?: string | (() => string | undefined);
  fetch?: typeof globalThis.fetch;
}

/**
 * A typed client for this service, generated from openapi.yaml's types with openapi-fetch:
 * paths, parameters, bodies and answers are checked by the compiler.
 *
 *   const api = createOrderServiceClient("http://localhost:8000", { token });
 *   const { data, error } = await api.GET("/api/product/{id}", { params: { path: { id: 1 } } });
 */
export function createOrderServiceClient(baseUrl: string, options: ClientOptions = {}): OrderServiceClient {
  const client = createClient<paths>({ baseUrl, ...(options.fetch ? { fetch: options.fetch } : {}) });
  client.use({
    onRequest({ request }) {
      const token = typeof options.token === "function" ? options.token() : options.token;
      if (token) request.headers.set("authorization", `Bearer ${token}`);
      return request;
    },
  });
  return client;
}
