import { setTimeout as sleep } from "node:timers/promises";

/** The SDK already retries each request (3 attempts, with backoff for throttling): two rounds of that. */
const ATTEMPTS = 2;

/**
 * A register write that must not be lost to a moment of throttling: a few attempts with backoff, each
 * failure logged (never a secret: these are our own writes), the last one thrown.
 */
export async function retried<T>(what: string, write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      console.error(
        JSON.stringify({
          level: attempt < ATTEMPTS ? "WARN" : "ERROR",
          message: `register write failed: ${what}`,
          attempt,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        }),
      );
      if (attempt >= ATTEMPTS) throw error;
      await sleep(25 * 2 ** attempt * Math.random());
    }
  }
}
