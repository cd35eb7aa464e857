import type { IsoDate } from "../dates.ts";

/** An alert's name in the ledger: (subject, kind, threshold) goes out once, ever. */
export interface AlertKey {
  subject: string;
  kind: string;
  threshold: string;
}

/** An alert recorded to be sent, the mail rendered when it was recorded. */
export interface PendingAlert extends AlertKey {
  /** The night that raised it. */
  night: IsoDate;
  /** The rendered mail (JSON): sent as recorded, whatever the register says by the time it goes out. */
  payload: string;
}

/**
 * The watcher's alerts, each (subject, kind, threshold) sent once. An alert is first recorded as
 * pending, with its mail rendered, before anything it describes is written (so a run killed after the
 * write still leaves it to send); a run sends the pending ones under a short send lease (so two runs
 * never both send one), then marks them sent.
 */
export interface AlertLedger {
  /**
   * Records these as pending (and under their night, for the night's summary), skipping any pending or
   * sent already: the ones recorded by this call. Safe to repeat and to race.
   */
  record(alerts: readonly PendingAlert[]): Promise<PendingAlert[]>;
  /** Which of these are pending or sent, as `subject|kind|threshold` (batched reads, not one each). */
  recorded(keys: readonly AlertKey[]): Promise<Set<string>>;
  /** Every pending alert (of any night), oldest night first. */
  pending(): Promise<PendingAlert[]>;
  /**
   * Takes the send lease of a pending alert until `untilMs` (epoch ms): false when another run holds a
   * live lease, or it is pending no more.
   */
  lease(key: AlertKey, nowMs: number, untilMs: number): Promise<boolean>;
  /**
   * Gives a lease back (the send failed), so the next run sends it: only the lease this run took (its
   * `untilMs`); one another run took after it ran out stays that run's.
   */
  unlease(key: AlertKey, untilMs: number): Promise<void>;
  /** Which of these were sent, as `subject|kind|threshold`. */
  sent(keys: readonly AlertKey[]): Promise<Set<string>>;
  /** Marks these sent (at this ISO instant), then drops them from the pending ones. */
  markSent(alerts: readonly PendingAlert[], at: string): Promise<void>;
}

export const alertKeyText = (key: AlertKey) => `${key.subject}|${key.kind}|${key.threshold}`;
