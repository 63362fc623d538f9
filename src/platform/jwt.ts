import fastifyJwt from "@fastify/jwt";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/** @fastify/jwt with the service's algorithm and claims; `app.jwt` signs and verifies. */
export const jwtPlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(fastifyJwt, {
      secret: app.config.JWT_SECRET,
      sign: { algorithm: "HS256" },
      // `cache`: fast-jwt keeps up to 1,000 verified tokens (until they expire), keyed by a SHA-256
      // of the token. TokenService (src/accounts/tokens.ts) keeps its own cache of verified tokens
      // in front of this verifier, so this one is asked only about tokens that cache does not
      // hold: a token seen for the first time, or dropped from it after 10,000 others.
      // Tokens without `exp` are refused: a token must not live for ever.
      verify: { algorithms: ["HS256"], cache: true, requiredClaims: ["exp", "iat"] },
    });
  },
  { name: "jwt", dependencies: ["config"], fastify: "5.x" },
);
