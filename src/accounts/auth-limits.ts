import type { FastifyRequest } from "fastify";

/** The abuse limits of the credential endpoints, as the handlers use them (made by ./login-limits.ts). */
export interface AuthLimits {
  /** Counts a login attempt from this address; throws 429 when over a limit. */
  beforeLogin(request: FastifyRequest): Promise<void>;
  /** Counts a failed login for the name in the body, from this address. */
  loginFailed(request: FastifyRequest): Promise<void>;
  beforeRegister(request: FastifyRequest): Promise<void>;
}
