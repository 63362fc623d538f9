import { defineConfig } from "prisma/config";

// Only `prisma generate` uses the CLI; migrations run through scripts/migrate.ts
// (the WebAssembly schema engine), so no datasource URL is needed here.
export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
});
