import { loadConfig } from "../src/infra/config.js";
import { createDatabaseClient } from "../src/infra/db/client.js";
import { resolveDatabase } from "../src/infra/db/database-url.js";
import { DEFAULT_ADMIN_NAME, ensureDefaultAdmin } from "../src/accounts/default-admin.js";
import { UsersRepository } from "../src/accounts/users-repository.js";
import { checkDatabaseReachable } from "../src/infra/startup/checks.js";
import { exitWithStartupFailure } from "../src/infra/startup/failure.js";

// Development: admin/12345 as in the reference. Production: only when ADMIN_PASSWORD is set.
// A failure ends in one line saying what to do, and exit code 1.
try {
  const config = loadConfig();
  if (!config.ADMIN_PASSWORD) {
    console.log("ADMIN_PASSWORD is not set: no default admin is created");
  } else {
    if (config.DATABASE_URL) await checkDatabaseReachable(config.DATABASE_URL);
    const location = await resolveDatabase(config);
    const database = createDatabaseClient(location.url, { poolMax: 1 });
    try {
      const created = await ensureDefaultAdmin(new UsersRepository(database.prisma), config.ADMIN_PASSWORD);
      console.log(created ? `created the default admin "${DEFAULT_ADMIN_NAME}"` : `the admin "${DEFAULT_ADMIN_NAME}" already exists`);
    } finally {
      await database.close();
      await location.close();
    }
  }
} catch (error) {
  exitWithStartupFailure(error);
}
