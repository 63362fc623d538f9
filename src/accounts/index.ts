import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Feature } from "../infra/feature.js";
import { authHandlers } from "./auth-handlers.js";
import { Principals } from "./authentication.js";
import type { AuthLimits } from "./auth-limits.js";
import { DEFAULT_ADMIN_NAME, ensureDefaultAdmin, retireDevelopmentAdminPassword } from "./default-admin.js";
import { jwtSigner } from "./jwt-signer.js";
import { rateLimitsPlugin } from "./login-limits.js";
import { TokenService } from "./tokens.js";
import { userHandlers } from "./user-handlers.js";
import { UsersRepository } from "./users-repository.js";

export { assertOwnerOrAdmin, authenticateBeforeValidation, createSecurityHandlers, type Principal, userGone } from "./authentication.js";
export { DEFAULT_ADMIN_NAME } from "./default-admin.js";

export interface Accounts {
  users: UsersRepository;
  tokens: TokenService;
  limits: AuthLimits;
  principals: Principals;
}

declare module "fastify" {
  interface FastifyInstance {
    accounts: Accounts;
  }
}

/**
 * Users, their tokens (on @fastify/jwt) and the credential endpoints' abuse limits. When
 * ADMIN_PASSWORD is set (always outside production), the `admin` account is created here if
 * missing, before the app serves anything; in production one left with the development password
 * is refused (retireDevelopmentAdminPassword).
 */
const accountsPlugin = fp(
  async (app: FastifyInstance) => {
    const { config, database } = app;
    await app.register(rateLimitsPlugin);
    const users = new UsersRepository(database.prisma);
    const tokens = new TokenService(jwtSigner(app.jwt), database.prisma, {
      accessSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
      refreshSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
    });
    app.decorate("accounts", { users, tokens, limits: app.authLimits, principals: new Principals(users) });
    if (config.NODE_ENV === "production" && (await retireDevelopmentAdminPassword(users, tokens, config.ADMIN_PASSWORD))) {
      app.log.warn(`the "${DEFAULT_ADMIN_NAME}" account had the development password: replaced by ADMIN_PASSWORD, its tokens retired`);
    }
    if (config.ADMIN_PASSWORD) await ensureDefaultAdmin(users, config.ADMIN_PASSWORD);
  },
  { name: "accounts", dependencies: ["config", "database", "jwt", "metrics"], fastify: "5.x" },
);

export const accounts: Feature = {
  name: "accounts",
  plugin: accountsPlugin,
  handlers: (app) => ({ ...authHandlers(app.accounts), ...userHandlers(app.accounts) }),
};
