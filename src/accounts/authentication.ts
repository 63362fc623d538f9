import { timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import { LRUCache } from "lru-cache";
import { issuedBeforeCutoff, type TokenService } from "./tokens.js";
import type { UsersRepository } from "./users-repository.js";
import { forbidden, tokenNotValid, unauthorized, type AppError } from "../errors/app-error.js";

export interface Principal {
  id: string;
  name: string;
  isAdmin: boolean;
  tokensValidAfter: Date | null;
}

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal;
  }
}

/**
 * How long a user's existence, admin flag and token cut-off are trusted before they are read
 * again: deleting a user, revoking admin rights, logging out or changing the password reaches
 * existing access tokens within this delay, on every replica.
 */
export const PRINCIPAL_TTL_MS = 2_000;

/**
 * Who a user id is now (false: no such user), read at most every PRINCIPAL_TTL_MS. This process
 * forgets a user it deletes or changes at once; other processes within the TTL.
 */
export class Principals {
  private readonly cache: LRUCache<string, Principal | false>;

  constructor(users: UsersRepository) {
    this.cache = new LRUCache<string, Principal | false>({
      max: 50_000,
      ttl: PRINCIPAL_TTL_MS,
      fetchMethod: async (id) => {
        const user = await users.findById(id);
        return user ? { id: user.id, name: user.name, isAdmin: user.isAdmin, tokensValidAfter: user.tokensValidAfter } : false;
      },
    });
  }

  async find(id: string): Promise<Principal | false> {
    return (await this.cache.fetch(id)) ?? false;
  }

  /** The user was deleted or changed here: read it again on its next request. */
  forget(id: string): void {
    this.cache.delete(id);
  }
}

/** A request whose token's user no longer exists (401, the token is fine). */
export const userGone = (): AppError => tokenNotValid("User not found", false);

/**
 * The security schemes of openapi.yaml: `bearerAuth` (scopes are roles: `admin`) and
 * `metricsToken` (the operator's METRICS_TOKEN, when one is configured).
 */
export function createSecurityHandlers(tokens: TokenService, principals: Principals, metricsToken?: string) {
  return {
    async bearerAuth(request: FastifyRequest, _reply: FastifyReply, roles: string[] = []): Promise<void> {
      const header = request.headers.authorization;
      if (!header) {
        throw unauthorized("Authentication credentials were not provided.");
      }
      const [scheme, token, extra] = header.split(" ");
      if (scheme?.toLowerCase() !== "bearer" || !token || extra !== undefined) {
        throw unauthorized("Authorization header must be 'Bearer <token>'.");
      }
      const claims = tokens.verify(token, "access");
      const principal = await principals.find(claims.user_id);
      if (!principal) throw userGone();
      if (issuedBeforeCutoff(claims.iat, principal.tokensValidAfter)) {
        throw tokenNotValid("Token was issued before the last logout, password change or refresh-token reuse", false);
      }
      if (roles.includes("admin") && !principal.isAdmin) throw forbidden();
      request.principal = principal;
    },

    async metricsToken(request: FastifyRequest): Promise<void> {
      if (!metricsToken) return;
      const sent = Buffer.from(request.headers.authorization ?? "");
      const expected = Buffer.from(`Bearer ${metricsToken}`);
      if (sent.length !== expected.length || !timingSafeEqual(sent, expected)) {
        throw unauthorized("A valid metrics token is required.");
      }
    },
  };
}

/**
 * The one ownership rule of every resource: its owner and admins may see and change it. To anyone
 * else it does not exist (`hidden`, a not-found), so ids of others' resources cannot be probed.
 */
export function assertOwnerOrAdmin(principal: Principal, ownerId: string | null, hidden: () => AppError): void {
  if (!principal.isAdmin && principal.id !== ownerId) throw hidden();
}

/**
 * fastify-openapi-glue runs security handlers as a preHandler, after the body is parsed and
 * validated. Authenticate first instead, so anonymous callers learn nothing about the schema.
 */
export function authenticateBeforeValidation(route: RouteOptions): void {
  if (route.preHandler && !route.onRequest) {
    route.onRequest = route.preHandler as RouteOptions["onRequest"];
    delete route.preHandler;
  }
}
