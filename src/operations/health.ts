import type { DatabaseClient } from "../infra/db/client.js";
import { serviceUnavailable } from "../errors/app-error.js";
import type { HandlersFor } from "../infra/http/operation-types.js";

export interface Lifecycle {
  /** Set once shutdown begins, so load balancers stop sending traffic before the server closes. */
  shuttingDown: boolean;
}

const READINESS_TIMEOUT_MS = 1_000;

/** Why this process should not get traffic now (and the error behind it), or undefined when it is ready (/readyz, service_ready). */
export async function notReadyReason(deps: { database: DatabaseClient; lifecycle: Lifecycle }): Promise<{ detail: string; cause?: unknown } | undefined> {
  if (deps.lifecycle.shuttingDown) return { detail: "The service is shutting down." };
  const ping = deps.database.pool.query("SELECT 1");
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), READINESS_TIMEOUT_MS).unref());
  try {
    await Promise.race([ping, timeout]);
    return undefined;
  } catch (error) {
    ping.catch(() => {});
    return { detail: "The database is not answering.", cause: error };
  }
}

export function healthHandlers(deps: { database: DatabaseClient; lifecycle: Lifecycle }): HandlersFor<"getLiveness" | "getReadiness"> {
  return {
    async getLiveness() {
      return { status: "ok" };
    },

    async getReadiness() {
      const notReady = await notReadyReason(deps);
      if (notReady) throw serviceUnavailable(notReady.detail, { cause: notReady.cause });
      return { status: "ready" };
    },
  };
}
