import type { FastifyRequest } from "fastify";

/** The abuse limits of the credential endpoints, as the handlers use them (made by ./login-limits.ts). */
export interface AuthLimits {
  /**
   * Counts a login attempt from this address and reserves one for the name in the body from this
   * address (it stays counted as a failure unless released); throws 429 when over a limit.
   */
  beforeLogin(request: FastifyRequest): Promise<void>;
  /** Releases the attempt beforeLogin reserved: the login succeeded, or failed through no fault of the client's. */
  releaseLogin(request: FastifyRequest): Promise<void>;
  beforeRegister(request: FastifyRequest): Promise<void>;
}
