/** The money rules' time settings, one set for the API, the watcher and the reconciler. */
export interface IdempotencySettings {
  /** How long a final answer is kept (the table's TTL removes it later): at least 24 h. */
  ttlSeconds: number;
  /** How long the first request holds the key before it is presumed dead (past the Lambda timeout). */
  lockMs: number;
  /**
   * An unknown outcome is decided only this long after the call was sent (`RECONCILE_AFTER_SECONDS`):
   * vendors apply calls late, and one immediate read proves nothing.
   */
  settleMs: number;
}

/** The watcher's own client name: the scope of its renewal keys. */
export const WATCHER_CLIENT = "watcher";

/** A watcher key names one night; 30 days outlives any retry or replay of that night. */
const WATCHER_TTL_SECONDS = 30 * 86_400;

/**
 * How long an answer under this client's keys is kept: the watcher's for 30 days, whoever completes it
 * (the watcher, the reconciler, a later night), the API clients' for the configured time.
 */
export function answerTtlSeconds(settings: IdempotencySettings, client: string): number {
  return client === WATCHER_CLIENT ? Math.max(settings.ttlSeconds, WATCHER_TTL_SECONDS) : settings.ttlSeconds;
}
