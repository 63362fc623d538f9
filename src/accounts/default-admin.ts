import { hashPassword } from "./passwords.js";
import { normalizeName } from "../shared/names.js";
import type { UsersRepository } from "./users-repository.js";

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
