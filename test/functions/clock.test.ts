import { afterEach, describe, expect, it, vi } from "vitest";

/** The functions' clocks, loaded afresh under the environment each test gives them. */
async function clockWith(env: Record<string, string | undefined>) {
  vi.resetModules();
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  return import("../../functions/lib/clock.ts");
}
afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe("the functions' clock", () => {
  it("moves the business date (pinned by NOW) and the clock of locks and windows by the same amount", async () => {
    const clock = await clockWith({ NOW: "2021-05-01", AWS_LAMBDA_FUNCTION_NAME: undefined });
    expect(clock.now().toISOString()).toBe("2021-05-01T00:00:00.000Z");
    const before = clock.nowMs();
    clock.advanceClock(15 * 60_000);
    expect(clock.now().toISOString()).toBe("2021-05-01T00:15:00.000Z");
    const moved = clock.nowMs() - before;
    expect(moved).toBeGreaterThanOrEqual(15 * 60_000);
    expect(moved).toBeLessThan(15 * 60_000 + 5_000);
    // A day set by hand is that day, whatever the clock was moved by; locks keep their moved time.
    clock.pinClock(new Date("2021-06-15T00:00:00Z"));
    expect(clock.now().toISOString()).toBe("2021-06-15T00:00:00.000Z");
    expect(clock.nowMs() - Date.now()).toBeGreaterThanOrEqual(15 * 60_000 - 5_000);
    clock.resetClock();
    expect(Math.abs(clock.nowMs() - Date.now())).toBeLessThan(5_000);
  });

  it("runs in real time when nothing is pinned, and moves with it", async () => {
    const clock = await clockWith({ NOW: undefined, AWS_LAMBDA_FUNCTION_NAME: undefined });
    expect(Math.abs(clock.now().getTime() - Date.now())).toBeLessThan(5_000);
    clock.advanceClock(3_600_000);
    expect(clock.now().getTime() - Date.now()).toBeGreaterThan(3_600_000 - 5_000);
  });

  it("only moves forward", async () => {
    const clock = await clockWith({ AWS_LAMBDA_FUNCTION_NAME: undefined });
    expect(() => clock.advanceClock(-1)).toThrow(/forward only/);
    expect(() => clock.advanceClock(Number.NaN)).toThrow(/forward only/);
  });

  it("is the real time in Lambda: NOW is ignored and the clock cannot be moved", async () => {
    const clock = await clockWith({ NOW: "2021-05-01", AWS_LAMBDA_FUNCTION_NAME: "desk-order" });
    expect(Math.abs(clock.now().getTime() - Date.now())).toBeLessThan(5_000);
    expect(() => clock.advanceClock(1000)).toThrow(/cannot be moved in Lambda/);
    expect(Math.abs(clock.nowMs() - Date.now())).toBeLessThan(5_000);
  });
});
