import helmet from "@fastify/helmet";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

const HSTS = "max-age=31536000; includeSubDomains";

/**
 * Helmet's headers fitted to a JSON API: nothing may be framed or loaded by an API answer.
 * The docs page sets its own, looser CSP for Swagger UI's assets. HSTS only on https answers
 * (directly, or behind a proxy that says so in X-Forwarded-Proto when TRUST_PROXY is on).
 */
export const securityHeadersPlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(helmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
      },
      crossOriginResourcePolicy: { policy: "same-origin" },
      // Sent only over https (below): over plain http a browser ignores it at best, and a
      // development server on localhost must not pin every other localhost port to https.
      hsts: false,
    });
    app.addHook("onSend", (request, reply, payload, done) => {
      if (request.protocol === "https") reply.header("strict-transport-security", HSTS);
      done(null, payload);
    });
  },
  { name: "security-headers", fastify: "5.x" },
);
