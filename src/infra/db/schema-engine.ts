// Prisma's WebAssembly schema engine (the engine behind `prisma migrate`), driven through
// the pg driver adapter. Internal to src/infra/db/migrations.ts.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import {
  bindMigrationAwareSqlAdapterFactory,
  DriverAdapterError,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlResultSet,
} from "@prisma/driver-adapter-utils";
import type { SchemaEngine } from "@prisma/schema-engine-wasm";

type SchemaEngineClass = typeof SchemaEngine;

let engineClass: Promise<SchemaEngineClass> | undefined;
let lastPanic: string | undefined;

/**
 * The package's main entry imports its .wasm file as an ES module, which Node refuses;
 * so instantiate the .wasm beside the glue ourselves, once per process (about 30 ms).
 */
function loadEngineClass(): Promise<SchemaEngineClass> {
  engineClass ??= (async () => {
    // The Rust panic hook reports through this global (see prisma-engines' schema-engine-wasm).
    (globalThis as Record<string, unknown>).PRISMA_WASM_PANIC_REGISTRY ??= {
      set_message(message: string) {
        lastPanic = message;
      },
    };
    const glue = await import("@prisma/schema-engine-wasm/schema_engine_bg");
    const wasmPath = join(dirname(createRequire(import.meta.url).resolve("@prisma/schema-engine-wasm/schema_engine_bg")), "schema_engine_bg.wasm");
    const { instance } = await WebAssembly.instantiate(await readFile(wasmPath), {
      "./schema_engine_bg.js": unrefTimers(glue as unknown as WebAssembly.ModuleImports),
    });
    (glue as unknown as { __wbg_set_wasm(exports: WebAssembly.Exports): void }).__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return glue.SchemaEngine;
  })();
  return engineClass;
}

/**
 * The engine arms 10 s timers (timeouts around its operations) and never clears them, which
 * kept every script alive for 10 s after its work was done. Unref them.
 */
function unrefTimers(glue: WebAssembly.ModuleImports): WebAssembly.ModuleImports {
  const imports: WebAssembly.ModuleImports = { ...glue };
  for (const [name, value] of Object.entries(glue)) {
    if (name.startsWith("__wbg_setTimeout_") && typeof value === "function") {
      imports[name] = (...args: unknown[]) => {
        const timer = (value as (...args: unknown[]) => unknown)(...args);
        (timer as { unref?: () => void } | null)?.unref?.();
        return timer;
      };
    }
  }
  return imports;
}

/** Runs `fn` with a schema engine connected through `factory`, then frees the engine. */
export async function withSchemaEngine<T>(factory: SqlMigrationAwareDriverAdapterFactory, fn: (engine: SchemaEngine) => Promise<T>): Promise<T> {
  const SchemaEngine = await loadEngineClass();
  let engine: SchemaEngine | undefined;
  try {
    // The callback receives the engine's tracing logs (JSON lines); its errors say enough.
    engine = await SchemaEngine.new({ datamodels: undefined }, () => {}, bindMigrationAwareSqlAdapterFactory(factory));
    return await fn(engine);
  } catch (error) {
    throw engineError(error);
  } finally {
    engine?.free();
  }
}

function engineError(error: unknown): Error {
  if (lastPanic) {
    // After a panic the Wasm instance is unusable, and the glue module cannot be re-initialized.
    engineClass = Promise.reject(new Error(`The schema engine panicked earlier in this process: ${lastPanic}`));
    engineClass.catch(() => {});
    return new Error(`Schema engine panicked: ${lastPanic}`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Adapter factory for a live database.
 *
 * - PrismaPg is built from a Pool with explicit host/port/database fields: its
 *   connectToShadowDb() creates `{ ...pool.options, database: "prisma_migrate_shadow_db_…" }`,
 *   and a connectionString in those options would override that database name, pointing the
 *   "shadow" (which the engine resets) at the real database. On top of that, the shadow
 *   database is refused outright: nothing here needs one.
 * - One connection: the engine takes `pg_advisory_lock` and relies on the session ending to
 *   release it; with several pooled connections a later lock call could wait forever.
 * - executeScript: PrismaPg splits scripts on ";" and runs each piece in autocommit. We send the
 *   whole migration as one simple-protocol query instead, as the native engine does, so a
 *   migration is one implicit transaction and ";" inside strings or function bodies is safe.
 */
export function liveDatabaseFactory(databaseUrl: string): { factory: SqlMigrationAwareDriverAdapterFactory; end(): Promise<void> } {
  const pool = new pg.Pool({ ...poolConfigFromUrl(databaseUrl), max: 1 });
  pool.on("error", () => {});
  const prismaPg = new PrismaPg(pool);
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: prismaPg.provider,
    adapterName: prismaPg.adapterName,
    async connect() {
      const inner = await prismaPg.connect();
      const adapter: SqlDriverAdapter = {
        provider: inner.provider,
        adapterName: inner.adapterName,
        queryRaw: (query) => inner.queryRaw(query),
        executeRaw: (query) => inner.executeRaw(query),
        startTransaction: (isolationLevel) => inner.startTransaction(isolationLevel),
        getConnectionInfo: () => inner.getConnectionInfo(),
        dispose: () => inner.dispose(),
        async executeScript(script) {
          try {
            await pool.query(script);
          } catch (error) {
            throw toDriverAdapterError(error);
          }
        },
      };
      return adapter;
    },
    async connectToShadowDb() {
      throw new Error("Refusing to use a shadow database: this project never needs one (see src/infra/db/schema-engine.ts)");
    },
  };
  return { factory, end: () => pool.end() };
}

function toDriverAdapterError(error: unknown): unknown {
  if (!(error instanceof pg.DatabaseError)) return error;
  return new DriverAdapterError({
    kind: "postgres",
    code: error.code ?? "",
    severity: error.severity ?? "ERROR",
    message: error.message,
    detail: error.detail,
    column: error.column,
    hint: error.hint,
  });
}

/** Pool fields from a postgres:// URL, without `connectionString` (see liveDatabaseFactory). */
export function poolConfigFromUrl(databaseUrl: string): pg.PoolConfig {
  const url = new URL(databaseUrl);
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new Error(`Not a postgres:// URL: ${url.protocol}//…`);
  }
  const sslmode = url.searchParams.get("sslmode");
  return {
    host: url.searchParams.get("host") ?? (decodeURIComponent(url.hostname) || "localhost"),
    port: url.port ? Number(url.port) : 5432,
    user: decodeURIComponent(url.username) || undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.slice(1)) || undefined,
    ssl: !sslmode || sslmode === "disable" ? undefined : { rejectUnauthorized: sslmode === "verify-full" || sslmode === "verify-ca" },
  };
}

/**
 * Adapter factory with no database behind it, for diffs between two Prisma schemas. The
 * engine only asks for the server version when it starts; every other query is an error,
 * so a code path that unexpectedly needs a database fails loudly instead of touching one.
 */
export function offlineFactory(): SqlMigrationAwareDriverAdapterFactory {
  const refuse = (what: string) => Promise.reject(new Error(`No database behind this schema engine (${what})`));
  const versionProbe: SqlResultSet = {
    columnNames: ["exists", "version", "numeric_version"],
    columnTypes: [5 /* Boolean */, 7 /* Text */, 0 /* Int32 */],
    rows: [[true, "PostgreSQL 15.0", 150000]],
  };
  const adapter: SqlDriverAdapter = {
    provider: "postgres",
    adapterName: "offline",
    queryRaw: (query) => (query.sql.includes("current_setting('server_version_num')") ? Promise.resolve(versionProbe) : refuse(query.sql)),
    executeRaw: (query) => refuse(query.sql),
    executeScript: () => refuse("executeScript"),
    startTransaction: () => refuse("startTransaction"),
    dispose: () => Promise.resolve(),
  };
  return {
    provider: "postgres",
    adapterName: "offline",
    connect: () => Promise.resolve(adapter),
    connectToShadowDb: () => refuse("shadow database"),
  };
}
