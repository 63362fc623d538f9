import { Prisma } from "../../generated/prisma/client.js";

export type Decimal = Prisma.Decimal;
export const Decimal = Prisma.Decimal;

const PRICE_PATTERN = /^\d{1,7}(\.\d{1,3})?$/;

/** Money on the wire: an exact decimal string with three decimals ("2.200"). */
export function formatMoney(value: Prisma.Decimal): string {
  return value.toFixed(3);
}

/**
 * Parses a price sent as a string or a JSON number. A JSON number is read back through its
 * shortest decimal form, so 2.2 is 2.2 exactly and not the binary float nearest to it.
 */
export function parsePrice(value: string | number): Prisma.Decimal | undefined {
  const text = typeof value === "number" ? String(value) : value;
  return PRICE_PATTERN.test(text) ? new Prisma.Decimal(text) : undefined;
}
