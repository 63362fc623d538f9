import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import helmet from "helmet";

const HSTS = "max-age=31536000; includeSubDomains";

/**
 * Helmet's headers fitted to a JSON API: nothing may be framed or loaded by an API answer.
 * The docs pages set their own, looser CSP for Swagger UI's and Redoc's assets. HSTS only on
 * https answers (directly, or behind a proxy that says so in X-Forwarded-Proto when TRUST_PROXY
 * is on).
 */
export const securityHeadersPlugin = fp(
  async (app: FastifyInstance) => {
    const headers = Object.entries(helmetHeaders());
    // Added to every answer (errors and unknown routes included) unless the route set its own.
    app.addHook("onSend", (request, reply, payload, done) => {
      for (const [name, value] of headers) if (!reply.hasHeader(name)) reply.header(name, value);
      if (request.protocol === "https") reply.header("strict-transport-security", HSTS);
      done(null, payload);
    });
  },
  { name: "security-headers", fastify: "5.x" },
);

/**
 * The headers helmet sets with these options, computed once: they do not depend on the request,
 * and running helmet's middleware on every request was a measurable share of a read's CPU.
 */
function helmetHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: string | number) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    crossOriginResourcePolicy: { policy: "same-origin" },
    // Sent only over https (above): over plain http a browser ignores it at best, and a
    // development server on localhost must not pin every other localhost port to https.
    hsts: false,
  })({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return headers;
}
