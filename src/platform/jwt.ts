import fastifyJwt from "@fastify/jwt";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/** @fastify/jwt with the service's algorithm and claims; `app.jwt` signs and verifies. */
export const jwtPlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(fastifyJwt, {
      secret: app.config.JWT_SECRET,
      sign: { algorithm: "HS256" },
      // Tokens without `exp` are refused: a token must not live for ever. No `cache`: verified
      // tokens are remembered once, by src/accounts/tokens.ts.
      verify: { algorithms: ["HS256"], requiredClaims: ["exp", "iat"] },
    });
  },
  { name: "jwt", dependencies: ["config"], fastify: "5.x" },
);
