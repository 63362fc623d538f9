import { describe, expect, it } from "vitest";
import { Decimal, formatMoney, type MoneyText, parsePrice } from "./money.js";

describe("money", () => {
  it("is written with three decimals", () => {
    expect(formatMoney(new Decimal("2.2"))).toBe("2.200");
    expect(formatMoney(new Decimal("0"))).toBe("0.000");
    expect(formatMoney(new Decimal("9999999.999"))).toBe("9999999.999");
  });

  it("takes a numeric(10,3) as PostgreSQL prints it as the wire form already", () => {
    for (const text of ["2.200", "0.000", "9999999.999"]) {
      expect(formatMoney(text as MoneyText)).toBe(formatMoney(new Decimal(text)));
    }
  });

  it("reads a JSON number through its shortest decimal form, exactly", () => {
    expect(parsePrice(2.2)?.toString()).toBe("2.2");
    expect(parsePrice(0.1)?.add(parsePrice(0.2)!).toString()).toBe("0.3");
    expect(parsePrice("2.200")?.toString()).toBe("2.2");
  });

  it.each(["abc", "-1", "1.2345", "12345678", "1e3", "", " 1"])("refuses %j (openapi.yaml's PriceInput pattern)", (text) => {
    expect(parsePrice(text)).toBeUndefined();
  });

  it("refuses a JSON number that is not a price", () => {
    expect(parsePrice(1e21)).toBeUndefined();
    expect(parsePrice(0.0001)).toBeUndefined();
  });
});
