import { hashPassword, verifyPassword } from "./passwords.js";
import { normalizeName } from "../shared/names.js";
import type { UsersRepository } from "./users-repository.js";
import type { TokenService } from "./tokens.js";
import { DEVELOPMENT_ADMIN_PASSWORD } from "../infra/config.js";
import { StartupError } from "../infra/startup/error.js";

export const DEFAULT_ADMIN_NAME = "admin";

/**
 * Creates the `admin` account once. The reference's `admin`/`12345` is a development default;
 * the password rules apply to registration, not to this account. Idempotent.
 */
export async function ensureDefaultAdmin(users: UsersRepository, password: string): Promise<boolean> {
  const { name, key } = normalizeName(DEFAULT_ADMIN_NAME);
  if (await users.findCredentials(key)) return false;
  return users.createIfMissing({ name, key, passwordHash: await hashPassword(password), isAdmin: true });
}

/**
 * In production, an `admin` account left with the development password (created by a
 * development run on the same data) never signs in: with ADMIN_PASSWORD set, its password is
 * replaced by that one and its tokens retired; without, start-up fails with one line saying so.
 * Returns true when the password was replaced.
 */
export async function retireDevelopmentAdminPassword(users: UsersRepository, tokens: TokenService, adminPassword: string | undefined): Promise<boolean> {
  const account = await users.findCredentials(normalizeName(DEFAULT_ADMIN_NAME).key);
  if (!account || !(await verifyPassword(account.passwordHash, DEVELOPMENT_ADMIN_PASSWORD))) return false;
  if (!adminPassword) {
    throw new StartupError(
      `The "${DEFAULT_ADMIN_NAME}" account has the development password, refused in production: start once with ADMIN_PASSWORD=<a strong password> to replace it, or delete the account.`,
    );
  }
  await users.update(account.id, { passwordHash: await hashPassword(adminPassword) });
  await tokens.revokeAllForUser(account.id);
  return true;
}
