import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { assertMatchesSpec } from "./contract.js";

/**
 * `call(method, path, payload?)` on an app a test builds itself, as the signed-in user, each
 * answer checked against openapi.yaml. App and token are read at each call (tests set them in
 * beforeAll).
 */
export function checkedInject(app: () => FastifyInstance, token: () => string) {
  return async (method: string, path: string, payload?: object): Promise<LightMyRequestResponse> => {
    const response = await app().inject({
      method: method as "GET",
      url: path,
      headers: { authorization: `Bearer ${token()}` },
      ...(payload ? { payload } : {}),
    });
    assertMatchesSpec(method, path, response);
    return response;
  };
}
