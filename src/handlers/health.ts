import type { DatabaseClient } from "../db/client.js";
import { Problem } from "../http/problem.js";
import type { HandlersFor } from "../http/operation-types.js";

export interface Lifecycle {
  /** Set once shutdown begins, so load balancers stop sending traffic before the server closes. */
  shuttingDown: boolean;
}

const READINESS_TIMEOUT_MS = 1_000;

export function healthHandlers(deps: { database: DatabaseClient; lifecycle: Lifecycle }): HandlersFor<"getLiveness" | "getReadiness"> {
  const unavailable = (detail: string, cause?: unknown) => new Problem("service-unavailable", detail, { headers: { "retry-after": "5" }, cause });
  return {
    async getLiveness() {
      return { status: "ok" };
    },

    async getReadiness() {
      if (deps.lifecycle.shuttingDown) throw unavailable("The service is shutting down.");
      const ping = deps.database.pool.query("SELECT 1");
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), READINESS_TIMEOUT_MS).unref());
      try {
        await Promise.race([ping, timeout]);
      } catch (error) {
        ping.catch(() => {});
        throw unavailable("The database is not answering.", error);
      }
      return { status: "ready" };
    },
  };
}
