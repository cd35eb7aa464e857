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
