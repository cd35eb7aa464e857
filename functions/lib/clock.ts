import { parseInstant } from "../../shared/domain/dates.ts";

/**
 * The service's clocks, both the real time in Lambda (where nothing here can change them):
 * - `now()`, the business date every decision takes (lifecycle, expiry). Locally `NOW` pins it, so the
 *   2021 calendar can be shown.
 * - `nowMs()`, the running epoch ms of locks, leases and settle windows.
 * Tests and local runs may move both forward together (`advanceClock`), so a 15-minute settle window is
 * passed without waiting for it. Request deadlines are not on these clocks: they measure the real time a
 * Lambda has left (`Date.now()`), and a moved clock must never shorten or stretch them.
 */
const inLambda = process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined;

let pinned: Date | undefined = !inLambda && process.env.NOW ? parseInstant(process.env.NOW) : undefined;
/** How far tests have moved the clocks ahead of the real time. */
let offsetMs = 0;

export function now(): Date {
  return pinned ? new Date(pinned.getTime()) : new Date(Date.now() + offsetMs);
}

/** Epoch ms for locks, leases and settle windows: the real time, plus what tests moved it by. */
export function nowMs(): number {
  return Date.now() + offsetMs;
}

/** Local runs and tests: pin the business clock to an instant, or release it with undefined. */
export function pinClock(instant: Date | undefined): void {
  pinned = instant;
}

/**
 * Tests and local runs: moves both clocks `ms` ahead, as if that much time had passed. Refused in Lambda,
 * where the clocks are the real time.
 */
export function advanceClock(ms: number): void {
  if (inLambda) throw new Error("the clock cannot be moved in Lambda");
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`the clock moves forward only, not by ${ms} ms`);
  offsetMs += ms;
  if (pinned) pinned = new Date(pinned.getTime() + ms);
}

/** Tests: locks, leases and settle windows back on the real time (the business date as `pinClock` left it). */
export function resetClock(): void {
  offsetMs = 0;
}
