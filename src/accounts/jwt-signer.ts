import type { JWT } from "@fastify/jwt";
import type { TokenSigner } from "./tokens.js";

/** The accounts' TokenSigner on @fastify/jwt (registered by src/platform/jwt.ts with its algorithm and secret). */
export function jwtSigner(jwt: JWT): TokenSigner {
  return {
    sign: (claims, expiresInSeconds) => jwt.sign(claims, { expiresIn: `${expiresInSeconds}s` }),
    // Without options @fastify/jwt reuses its one verifier; with options it builds a new one.
    verify: (token, options) => (options?.ignoreExpiration ? jwt.verify(token, { ignoreExpiration: true }) : jwt.verify(token)),
  };
}
