import type { LicenceRecord } from "./licence-store.ts";

/** A money call's refusal as its client is told it: a stable code, plain words, the facts. */
export interface Refusal {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

/**
 * What a money call came to, as its client is answered the first time and on every replay: applied,
 * with the licence as the call left it, or not applied, with why (nothing was charged).
 */
export type MoneyAnswer =
  | { outcome: "applied"; licence: LicenceRecord }
  | { outcome: "not_applied"; refusal: Refusal };

/**
 * One money intent (an order or a renewal under one Idempotency-Key), from its claim to its outcome.
 * - in_progress: claimed; until `sentAt` is set nothing has left, so a claim whose holder died may be
 *   taken over and run again.
 * - unknown: sent, and the vendor's answer never came (or the holder died after sending): decided only
 *   after the settle window, on evidence.
 * - applied: the vendor answered OK (`facts` say what it did); the answer may not be built yet.
 * - completed: `response` is the final answer, replayed for every repeat.
 */
export type IntentStatus = "in_progress" | "unknown" | "applied" | "completed";

export interface IdempotencyRecord {
  /** Whose key it is: the API client's name, so two clients never share keys. */
  scope: string;
  key: string;
  /** SHA-256 of the request (method, path, body): the same key with another body is refused. */
  requestHash: string;
  /** `order` or `renew`. */
  operation: string;
  /** The canonical request, so a scheduled reconciler can settle it without its client. */
  request: unknown;
  status: IntentStatus;
  /** The evidence a reconcile needs, written before the money call is sent (expiry before, expected). */
  context: Record<string, string>;
  /** What the vendor did, once it answered OK (the new licence id, the new expiry). */
  facts: Record<string, string>;
  /** The final answer, once completed. */
  response: MoneyAnswer | undefined;
  /** How it ended: applied (the vendor acted) or not (refused, or settled as not applied). */
  outcome: "applied" | "not_applied" | undefined;
  /** Epoch ms after which the holder of an in_progress record is presumed dead (its Lambda ended). */
  lockedUntil: number;
  /** Epoch ms at which the money call left; absent while nothing was sent. */
  sentAt: number | undefined;
  /** Epoch seconds; the table's TTL attribute. Absent while unresolved: an unknown outcome never expires. */
  expiresAt: number | undefined;
  /** The evidence cannot decide it (why, and since when, epoch ms): a person must settle it. */
  undecided: { reason: string; since: number } | undefined;
}

/**
 * A key that others claimed and freed faster than this claim could write or read it (same-key requests
 * refused before sending, one after the other): nothing was claimed, and a retry with the key will see
 * how it stands.
 */
export class KeyContendedError extends Error {
  override readonly name = "KeyContendedError";
}

export type ClaimResult = { claimed: true } | { claimed: false; existing: IdempotencyRecord };

export type NewIntent = Pick<
  IdempotencyRecord,
  "scope" | "key" | "requestHash" | "operation" | "request" | "lockedUntil"
> & { expiresAt: number };

export interface IdempotencyStore {
  /**
   * Takes the key for a new request, atomically: succeeds only if no live record exists
   * (none, or one whose `expiresAt` has passed). Otherwise returns the existing record.
   */
  claim(record: NewIntent, nowMs: number): Promise<ClaimResult>;
  /** The record of a key, if any (a consistent read). */
  find(scope: string, key: string): Promise<IdempotencyRecord | undefined>;
  /**
   * Takes over a claim whose holder died before sending (in_progress, no `sentAt`, lock passed): true
   * for exactly one of several callers.
   */
  takeOver(scope: string, key: string, nowMs: number, lockedUntil: number): Promise<boolean>;
  /**
   * Right before the money call leaves: records the evidence and the send time, and makes the record
   * unresolved (no expiry, listed for the reconciler). Nothing is sent if this write fails.
   */
  /**
   * Records that the call is about to be sent, by the holder whose lock is `lock` only: a holder that
   * outlived its lock (taken over meanwhile) must not send beside its successor.
   */
  markSent(
    scope: string,
    key: string,
    context: Record<string, string>,
    sentAt: number,
    lock: number,
  ): Promise<void>;
  markUnknown(scope: string, key: string): Promise<void>;
  markApplied(scope: string, key: string, facts: Record<string, string>): Promise<void>;
  /**
   * The final answer, kept `ttlSeconds`. Only the first completion counts: the stored record after
   * the call (another reconciler's answer, if it came first).
   */
  complete(scope: string, key: string, answer: MoneyAnswer, expiresAt: number): Promise<IdempotencyRecord>;
  /**
   * Forgets the key: the request provably did nothing, so the same key may be used again. With
   * `ownLock`, only while the record still carries that lock: a holder whose lock ran out (and was taken
   * over) never deletes its successor's record. False when it was not this holder's to delete.
   */
  release(scope: string, key: string, ownLock?: number): Promise<boolean>;
  /**
   * Sent intents not completed yet (unknown, applied, or in_progress after sending): the least recently
   * looked at first (by their send, then by their last lease).
   */
  unresolved(limit: number): Promise<IdempotencyRecord[]>;
  /**
   * Takes a reconcile lease on an unresolved record (so two reconcilers never decide it at once):
   * true for exactly one caller until `until`. It also moves the record to the back of `unresolved`'s
   * order, so one that cannot be decided never keeps newer ones waiting.
   */
  lease(scope: string, key: string, nowMs: number, until: number): Promise<boolean>;
  /**
   * Ends a reconcile lease taken until `until` (the holder's own), once its evidence decided nothing:
   * an operator, a retry or another pass may then take the record at once. False when it was no longer
   * this holder's.
   */
  endLease(scope: string, key: string, until: number): Promise<boolean>;
  /** Marks an unresolved record as undecided by its evidence (kept since its first marking). */
  markUndecided(scope: string, key: string, reason: string, atMs: number): Promise<void>;
  /**
   * One renewal per licence in flight: holds the licence for this intent. The holder when another
   * intent holds it.
   */
  holdLicence(
    licenceId: string,
    owner: IntentRef,
  ): Promise<{ held: true } | { held: false; owner: IntentRef }>;
  /** Frees the licence if this intent (or `owner` as read before) still holds it. */
  freeLicence(licenceId: string, owner: IntentRef): Promise<void>;
  /**
   * One order in flight per IP and product line: holds `slot` (`<generation>#<canonical IP>`) for this
   * intent. The holder when another intent holds it.
   */
  holdOrder(slot: string, owner: IntentRef): Promise<{ held: true } | { held: false; owner: IntentRef }>;
  /** Frees the slot if `owner` still holds it. */
  freeOrder(slot: string, owner: IntentRef): Promise<void>;
  /** An order's new licence id belongs to one intent: true when it is (now) this one's. */
  claimLicenceId(licenceId: string, owner: IntentRef): Promise<boolean>;
  /**
   * The licence ids claimed (`claimLicenceId`) from about `sinceMs` (wall clock) on, with their intents:
   * one consistent query of the claims noted by time, however many licences are in question.
   */
  claimedSince(sinceMs: number): Promise<Map<string, IntentRef>>;
  /** The intents that claimed any of these licence ids (`claimLicenceId`), by consistent batch reads. */
  licenceIdOwners(licenceIds: readonly string[]): Promise<Map<string, IntentRef>>;
}

export interface IntentRef {
  scope: string;
  key: string;
}
