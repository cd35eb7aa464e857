import { describe, expect, it } from "vitest";
import {
  addDays,
  addMonths,
  daysBetween,
  isIsoDate,
  parseInstant,
  parseVendorDate,
} from "../shared/domain/dates.ts";

describe("calendar dates", () => {
  it("accepts only real YYYY-MM-DD dates", () => {
    expect(["2021-06-15", "2020-02-29"].map(isIsoDate)).toEqual([true, true]);
    expect(["2021-02-29", "2021-6-15", "2021-06-15T00:00:00Z", ""].map(isIsoDate)).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  it("reads vendor dates with a time part, and treats zero dates as none", () => {
    expect(parseVendorDate("2021-06-16 00:00:00")).toBe("2021-06-16");
    expect(parseVendorDate("0000-00-00")).toBeUndefined();
    expect(parseVendorDate(undefined)).toBeUndefined();
  });

  it("adds months clamped to the month's end, and days across years", () => {
    expect(addMonths("2021-01-31", 1)).toBe("2021-02-28");
    expect(addMonths("2021-05-01", 12)).toBe("2022-05-01");
    expect(addMonths("2021-12-15", 1)).toBe("2022-01-15");
    expect(addDays("2021-12-31", 1)).toBe("2022-01-01");
    expect(daysBetween("2021-06-01", "2021-06-15")).toBe(14);
    expect(daysBetween("2021-06-15", "2021-06-01")).toBe(-14);
  });

  it("reads NOW as UTC whether or not it names an offset", () => {
    expect(parseInstant("2021-05-01")?.toISOString()).toBe("2021-05-01T00:00:00.000Z");
    expect(parseInstant("2021-05-01T10:30")?.toISOString()).toBe("2021-05-01T10:30:00.000Z");
    expect(parseInstant("2021-05-01T10:30:00+02:00")?.toISOString()).toBe("2021-05-01T08:30:00.000Z");
    expect(parseInstant("tomorrow")).toBeUndefined();
  });
});
