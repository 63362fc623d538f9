import { describe, expect, it } from "vitest";
import { safeToRunAgain } from "./failover-pool.js";

const terminated = () => new Error("Connection terminated unexpectedly");
const sqlError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe("what the primary's pool runs again once a new primary is back", () => {
  it.each([
    ["a read cut by a lost connection", "SELECT id FROM products WHERE id = $1", terminated()],
    ["a read ended by a switchover (57P01)", { text: 'WITH t AS (SELECT 1) SELECT * FROM "users"' }, sqlError("57P01", "terminating connection")],
    ["a write a standby refused (25006)", 'INSERT INTO "users" (name) VALUES ($1)', sqlError("25006", "cannot execute INSERT in a read-only transaction")],
    [
      "a write never sent (its client had already failed)",
      "UPDATE products SET stock = 1",
      new Error("Client has encountered a connection error and is not queryable"),
    ],
  ])("%s", (_, statement, error) => {
    expect(safeToRunAgain(statement, error)).toBe(true);
  });

  it.each([
    ["a write cut while it ran: it may have committed", 'INSERT INTO "users" (name) VALUES ($1)', terminated()],
    ["a write ended by a switchover (57P01) while it ran", "DELETE FROM refresh_tokens WHERE id = $1", sqlError("57P01", "terminating connection")],
    ["a SELECT that writes", "SELECT nextval('orders_id_seq')", terminated()],
    ["a data-modifying WITH", "WITH moved AS (UPDATE products SET stock = 0 RETURNING id) SELECT * FROM moved", terminated()],
    ["a stall, which is not a lost connection", "SELECT 1", sqlError("57014", "canceling statement due to statement timeout")],
    ["a query error", "SELECT 1", sqlError("42P01", 'relation "x" does not exist')],
  ])("not %s", (_, statement, error) => {
    expect(safeToRunAgain(statement, error)).toBe(false);
  });
});
