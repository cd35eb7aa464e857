import { setTimeout as sleep } from "node:timers/promises";
import { errorText, log } from "../../log.ts";

/** The SDK already retries each request (3 attempts, with backoff for throttling): two rounds of that. */
const ATTEMPTS = 2;

/**
 * A register write that must not be lost to a moment of throttling: a few attempts with backoff, each
 * failure logged, the last one thrown.
 */
export async function retried<T>(what: string, write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      log(attempt < ATTEMPTS ? "WARN" : "ERROR", `register write failed: ${what}`, {
        attempt,
        error: errorText(error),
      });
      if (attempt >= ATTEMPTS) throw error;
      await sleep(25 * 2 ** attempt * Math.random());
    }
  }
}
