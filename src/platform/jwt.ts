import fastifyJwt from "@fastify/jwt";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/** @fastify/jwt with the service's algorithm and claims; `app.jwt` signs and verifies. */
export const jwtPlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(fastifyJwt, {
      secret: app.config.JWT_SECRET,
      sign: { algorithm: "HS256" },
      // `cache`: fast-jwt remembers verified tokens (until they expire), so a client's repeated
      // requests skip the HMAC and JSON work.
      // Tokens without `exp` are refused: a token must not live for ever.
      verify: { algorithms: ["HS256"], cache: true, requiredClaims: ["exp", "iat"] },
    });
  },
  { name: "jwt", dependencies: ["config"], fastify: "5.x" },
);
