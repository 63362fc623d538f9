import { DEFAULT_ADMIN_NAME } from "../src/accounts/default-admin.js";

/**
 * The default admin that tests and benchmarks sign in as: the service creates it with
 * ADMIN_PASSWORD, which they set to this password (the development default, as in the reference).
 */
export const ADMIN = { name: DEFAULT_ADMIN_NAME, password: "12345" };
