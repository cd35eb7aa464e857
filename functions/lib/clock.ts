import { parseInstant } from "../../shared/dates.ts";

/**
 * The service's clock. Locally `NOW` pins it, so the 2021 calendar can be shown; in Lambda it is
 * always the real time (the variable is ignored there).
 */
let pinned: Date | undefined =
  process.env.AWS_LAMBDA_FUNCTION_NAME === undefined && process.env.NOW
    ? parseInstant(process.env.NOW)
    : undefined;

export function now(): Date {
  return pinned ? new Date(pinned.getTime()) : new Date();
}

/** Local runs and tests: pin the clock to an instant, or release it with undefined. */
export function pinClock(instant: Date | undefined): void {
  pinned = instant;
}
