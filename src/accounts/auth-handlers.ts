import type { FastifyBaseLogger } from "fastify";
import type { TokenService } from "./tokens.js";
import type { UsersRepository } from "./users-repository.js";
import { hashIsOutdated, hashPassword, verifyAgainstDummy, verifyPassword } from "./passwords.js";
import { normalizeName } from "../shared/names.js";
import { invalidCredentials } from "../errors/app-error.js";
import type { AuthLimits } from "./auth-limits.js";
import type { HandlersFor } from "../infra/http/operation-types.js";

export function authHandlers(deps: {
  users: UsersRepository;
  tokens: TokenService;
  limits: AuthLimits;
}): HandlersFor<"obtainToken" | "refreshToken" | "revokeToken"> {
  const { users, tokens, limits } = deps;

  /**
   * A password hashed with older settings is hashed again with today's once it is known (at a
   * login). Best effort: the login succeeds either way, and the next one tries again.
   */
  async function storeNewHash(account: { id: string; passwordHash: string }, password: string, log: FastifyBaseLogger): Promise<void> {
    try {
      await users.replacePasswordHash(account.id, account.passwordHash, await hashPassword(password));
    } catch (err) {
      log.warn({ err }, "storing a password hash with today's settings failed; the next login tries again");
    }
  }

  return {
    async obtainToken(request) {
      await limits.beforeLogin(request);
      let release = true;
      try {
        const { key } = normalizeName(request.body.name);
        const account = await users.findCredentials(key);
        // Unknown names cost one hash too, so the answer's timing does not tell whether a name exists.
        const valid = account ? await verifyPassword(account.passwordHash, request.body.password) : await verifyAgainstDummy(request.body.password);
        if (!account || !valid) {
          release = false; // the reserved attempt stays counted: a failure
          throw invalidCredentials();
        }
        if (hashIsOutdated(account.passwordHash)) await storeNewHash(account, request.body.password, request.log);
        // Deleted while its password was checked: as if it had never existed.
        return await tokens.issue(account.id, account.tokensValidAfter, { userGone: invalidCredentials });
      } finally {
        if (release) await limits.releaseLogin(request);
      }
    },

    async refreshToken(request) {
      return tokens.rotate(request.body.refresh);
    },

    async revokeToken(request, reply) {
      await tokens.revoke(request.body.refresh);
      reply.code(204);
    },
  };
}
