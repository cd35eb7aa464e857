import { describe, expect, it } from "vitest";
import { skippedDay } from "../../infra/schedule-time.ts";

const FROM = new Date("2026-11-29T00:00:00Z");

describe("a schedule's time of day on every day of its zone", () => {
  it.each([
    ["cron(0 2 * * ? *)", "Europe/Berlin", "2027-03-28 02:00"],
    ["cron(30 2 * * ? *)", "America/New_York", "2027-03-14 02:30"],
    ["cron(0 1 * * ? *)", "Europe/London", "2027-03-28 01:00"],
    ["cron(0 0 * * ? *)", "America/Santiago", "2027-09-05 00:00"],
    ["cron(15 2 * * ? *)", "Australia/Lord_Howe", "2027-10-03 02:15"],
    ["cron(0 4,2 * * ? *)", "Europe/Berlin", "2027-03-28 02:00"],
  ])("%s in %s is skipped on the spring-forward day (%s)", (expression, zone, day) => {
    expect(skippedDay(expression, zone, 3, FROM)).toBe(day);
  });

  it.each([
    ["cron(0 2 * * ? *)", "UTC"],
    ["cron(0 4 * * ? *)", "Europe/Berlin"],
    ["cron(0 3 * * ? *)", "Europe/Berlin"],
    ["cron(30 1 * * ? *)", "Europe/Berlin"],
    ["cron(45 2 * * ? *)", "Australia/Lord_Howe"],
    ["rate(1 day)", "Europe/Berlin"],
    ["cron(0/30 * * * ? *)", "Europe/Berlin"],
  ])("%s in %s exists every day", (expression, zone) => {
    expect(skippedDay(expression, zone, 3, FROM)).toBeUndefined();
  });
});
