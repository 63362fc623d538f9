// The floor of webhooks' cost on this machine, for bench:webhooks (BENCH_WEBHOOKS_FLOOR=1): in the
// benchmark's throwaway database, the outbox's write (`record_event`) is rewritten to write no
// delivery row and lock no endpoint; it still answers every subscribed endpoint's delivery, taken
// by the process that wrote the change. The service then signs and sends each event to each
// endpoint once, as always, and its outcome updates find no row. What two endpoints cost then is
// less than any design that keeps delivery state in the database pays, which writes something per
// delivery: the HTTP exchange of each delivery (the service's request, the receiver's answer), and
// the lookup of the subscribed endpoints with each event (which a design could keep in memory).
// Rewritten from the function as migrated (pg_get_functiondef), so that it follows the migrations;
// it refuses to run when the function no longer has the parts it replaces.
import { sql } from "./postgres.js";

const LOCK = /^\s*FOR KEY SHARE OF w\s*$/m;
const QUEUED = /queued AS \(\s*INSERT INTO webhook_deliveries[\s\S]*?RETURNING webhook_deliveries\.id, webhook_deliveries\.endpoint_id\s*\)/;

export async function installWebhooksFloor(url: string): Promise<void> {
  const [row] = await sql<{ definition: string }>(url, "SELECT pg_get_functiondef('record_event'::regproc) AS definition");
  const definition = row?.definition ?? "";
  if (!LOCK.test(definition) || !QUEUED.test(definition))
    throw new Error(
      "BENCH_WEBHOOKS_FLOOR: record_event no longer has the endpoint lock and delivery insert this benchmark replaces; update bench/lib/webhooks-floor.ts",
    );
  const floor = definition.replace(LOCK, "").replace(QUEUED, "queued AS (SELECT gen_random_uuid() AS id, target.id AS endpoint_id FROM target)");
  await sql(url, floor);
}
