import { Prisma } from "../../generated/prisma/client.js";
import { SPEC_LIMITS } from "../infra/spec-limits.js";

export type Decimal = Prisma.Decimal;
export const Decimal = Prisma.Decimal;

/**
 * Money as PostgreSQL prints a numeric(10,3) column (`price::text`): already the wire form,
 * so the catalogue's reads skip making a Decimal only to print it again.
 */
export type MoneyText = string & { readonly __numeric3Text: unique symbol };

/** Money on the wire: an exact decimal string with three decimals ("2.200"). */
export function formatMoney(value: Prisma.Decimal | MoneyText): string {
  return typeof value === "string" ? value : value.toFixed(3);
}

/**
 * Parses a price sent as a string or a JSON number. A JSON number is read back through its
 * shortest decimal form, so 2.2 is 2.2 exactly and not the binary float nearest to it.
 */
export function parsePrice(value: string | number): Prisma.Decimal | undefined {
  const text = typeof value === "number" ? String(value) : value;
  return SPEC_LIMITS.pricePattern.test(text) ? new Prisma.Decimal(text) : undefined;
}
