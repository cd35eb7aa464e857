import { describe, expect, it } from "vitest";
import { formatMoney, parseMoney } from "../shared/domain/money.ts";

describe("an amount as billing panels print it", () => {
  it.each([
    ["1,234.56 USD", undefined, 123_456, "USD"],
    ["123.45 €", undefined, 12_345, "EUR"],
    ["€123.45", undefined, 12_345, "EUR"],
    ["$ 1,000", undefined, 100_000, "USD"],
    ["1 234,56 RUB", undefined, 123_456, "RUB"],
    ["1\u00a0234,56 RUB", undefined, 123_456, "RUB"],
    ["1.234,56 EUR", undefined, 123_456, "EUR"],
    ["12,5 RUB", undefined, 1_250, "RUB"],
    ["5 руб.", undefined, 500, "RUB"],
    ["USD 5", undefined, 500, "USD"],
    ["-12.00", "eur", -1_200, "EUR"],
    ["123.45", undefined, 12_345, undefined],
    ["1,234", "EUR", 123_400, "EUR"],
  ])("%j (currency field %j) is %i minor units of %s", (text, field, minor, currency) => {
    expect(parseMoney(text, field)).toEqual({ minor, currency });
  });

  it.each(["n/a", "", "1,23,456 EUR", "12 34.5", "10 EURO", "EUR 5 USD", "1.2.3"])(
    "%j is no amount: no forecast is made from a misread balance",
    (text) => {
      expect(parseMoney(text)).toBeUndefined();
    },
  );

  it("is written with two decimals, grouped thousands and the code after", () => {
    expect(formatMoney({ minor: 123_456, currency: "EUR" })).toBe("1,234.56 EUR");
    expect(formatMoney({ minor: -5, currency: "USD" })).toBe("-0.05 USD");
    expect(formatMoney({ minor: 100, currency: undefined })).toBe("1.00");
  });
});
