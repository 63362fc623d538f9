import { describe, expect, it } from "vitest";
import { isForeignKeyViolation } from "./errors.js";

// The shapes these errors arrive in: pg's own, and Prisma's adapter's (kept as the cause of what the client throws).
const fromPg = (constraint: string) => Object.assign(new Error("insert or update violates foreign key constraint"), { code: "23503", constraint });
const fromAdapter = (constraint: string) =>
  Object.assign(new Error("driver adapter error"), { cause: { kind: "ForeignKeyConstraintViolation", constraint: { index: constraint } } });

describe("isForeignKeyViolation", () => {
  it("recognises a violation in either shape", () => {
    expect(isForeignKeyViolation(fromPg("orders_user_id_fkey"))).toBe(true);
    expect(isForeignKeyViolation(fromAdapter("orders_user_id_fkey"))).toBe(true);
    expect(isForeignKeyViolation(Object.assign(new Error("other"), { code: "23505" }))).toBe(false);
  });

  it("counts only the constraints named, when it is given names", () => {
    const users = ["orders_user_id_fkey", "idempotency_keys_user_id_fkey"];
    expect(isForeignKeyViolation(fromPg("idempotency_keys_user_id_fkey"), users)).toBe(true);
    expect(isForeignKeyViolation(fromAdapter("orders_user_id_fkey"), users)).toBe(true);
    expect(isForeignKeyViolation(fromPg("webhook_deliveries_endpoint_id_fkey"), users)).toBe(false);
    expect(isForeignKeyViolation(fromAdapter("webhook_deliveries_endpoint_id_fkey"), users)).toBe(false);
    expect(isForeignKeyViolation(Object.assign(new Error("no name"), { code: "23503" }), users)).toBe(false);
  });
});
