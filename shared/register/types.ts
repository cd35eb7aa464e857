import type { LicenceStatus } from "../billmgr/licence.ts";
import type { IsoDate } from "../dates.ts";

/** Our own renewal setting: the watcher renews for this many months, or never (null). */
export type AutoRenew = null | 1 | 12;

/** One licence in the register. */
export interface LicenceRecord {
  id: string;
  name: string;
  ip: string;
  /** Catalogue product id (`ispmanager5-lite`); undefined for a pricelist the catalogue does not know. */
  product?: string;
  pricelist: string;
  period?: number;
  nodes?: number;
  status: LicenceStatus;
  /** The vendor's raw status code (`5_prolong`). */
  statusCode: string;
  expiresOn?: IsoDate;
  createdOn?: IsoDate;
  key?: string;
  autoRenew: AutoRenew;
  /** ISO instant of the last time the vendor's whole form was read (sync, refresh, an order's answer). */
  syncedAt?: string;
  /**
   * When the desk last wrote vendor fields from its own calls, by the real clock (ISO instants): each
   * field a call wrote (a rename, a new key, a suspend, a renewal's answer), and `form` for a whole form
   * read (a refresh, an order's answer). A sync whose read began before such a write keeps the desk's
   * value of that field (of every field, for `form`), and only that.
   */
  deskWrites?: DeskWrites;
  /** ISO instant of the last write. */
  updatedAt: string;
  /** The night the licence was first missing from the vendor's list; kept, never dropped. */
  goneSince?: IsoDate;
  /** The night the sync first found it at the vendor (none for a licence an order or a refresh created). */
  syncAddedOn?: IsoDate;
  /** The last night the sync found it changed at the vendor. */
  syncChangedOn?: IsoDate;
  /**
   * The night the desk first saw it suspended at the vendor (by its sync, or a renewal's last read),
   * while it still ran: a licence suspended before its expiry was suspended on purpose, and is not
   * renewed as a lapse once its expiry passes. Cleared when it runs again.
   */
  suspendedOn?: IsoDate;
  /** Its form could not be read at the last sync (key, nodes unknown): the next sync reads it again. */
  formPending?: boolean;
  /**
   * Set when we suspended it on purpose (`POST /licenses/{id}/suspend`); resume clears it. The watcher
   * never renews such a licence, whatever its autoRenew says.
   */
  suspendedBy?: "desk";
  /** Bumped by every write: a write made from an older read is refused (`StaleRecordError`). */
  version?: number;
}

/**
 * What the desk stamps when it writes vendor fields from its own calls: one stamp per field group
 * (`status` with `statusCode`, `expiresOn` with `period`), `form` for the whole form.
 */
export const DESK_WRITTEN = ["name", "ip", "key", "status", "expiresOn", "form"] as const;
export type DeskWritten = (typeof DESK_WRITTEN)[number];
export type DeskWrites = Partial<Record<DeskWritten, string>>;

/** A conditional register write lost to a newer one: read again and decide again. */
export class StaleRecordError extends Error {
  override readonly name = "StaleRecordError";
}

/** Fields a partial update may set; `undefined` removes an optional one. */
export type LicenceChanges = Partial<Omit<LicenceRecord, "id" | "version">>;

export interface LicenceQuery {
  status?: LicenceStatus;
  /** Only licences whose expiry is strictly before this date. */
  expiresBefore?: IsoDate;
  /** Only licences whose expiry is on or after this date (so none without an expiry). */
  expiresFrom?: IsoDate;
  limit: number;
  /** Opaque, from a previous page. */
  cursor?: string;
}

export interface LicencePage {
  items: LicenceRecord[];
  cursor: string | undefined;
}

/** Thrown for a cursor that was not produced by `list`. */
export class InvalidCursorError extends Error {
  override readonly name = "InvalidCursorError";
}

export interface LicenceStore {
  get(id: string): Promise<LicenceRecord | undefined>;
  /** Creates or replaces the whole record (its version one past the record's own). */
  put(record: LicenceRecord): Promise<void>;
  /**
   * Creates the record only if there is none (version 1): false when one exists already (written by
   * someone else meanwhile: read it and `update` it instead).
   */
  create(record: LicenceRecord): Promise<boolean>;
  /**
   * `create` for many records at once, in batches (BatchWriteItem), for licences new to the register.
   * A record whose licence has an item already, or whose id an order has claimed, is not written: its
   * id is in `existing` (read it and update it, or `create` it, instead). What was created is returned
   * as written (version 1), or as corrected for an order that claimed the id while it was written.
   */
  createMany(records: readonly LicenceRecord[]): Promise<{ created: LicenceRecord[]; existing: string[] }>;
  /**
   * Sets only these fields, leaving every other one as it is (a reseller's `autoRenew` set during the
   * night survives the sync). With `ifVersion`, only if the record is still at that version
   * (`StaleRecordError` otherwise). The record after the write; undefined when there is none.
   */
  update(
    id: string,
    changes: LicenceChanges,
    options?: { ifVersion?: number },
  ): Promise<LicenceRecord | undefined>;
  /** Ordered by expiry, then id; by index, never by scan. */
  list(query: LicenceQuery): Promise<LicencePage>;
}

export type AuditOutcome = "ok" | "vendor_error" | "unavailable" | "timeout" | "unknown" | "refused";

/** One vendor call (or a refusal before any), as the audit trail keeps it. Never a secret. */
export interface AuditEntry {
  /** ISO instant. */
  at: string;
  /** The API client's name, or `watcher`. */
  client: string;
  /** Our operation name (`order`, `renew`, …). */
  operation: string;
  licenceId: string | undefined;
  /** What was asked, as the caller gave it (never credentials). */
  params: Record<string, string | number | boolean | null>;
  outcome: AuditOutcome;
  /** The vendor's error type, or our error code. */
  error: string | undefined;
  durationMs: number;
}

export interface AuditLog {
  record(entry: AuditEntry): Promise<void>;
  /** Newest first. */
  forLicence(licenceId: string, limit: number): Promise<AuditEntry[]>;
}

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
  /** The intents that claimed any of these licence ids (`claimLicenceId`), by consistent batch reads. */
  licenceIdOwners(licenceIds: readonly string[]): Promise<Map<string, IntentRef>>;
}

export interface IntentRef {
  scope: string;
  key: string;
}

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

/**
 * Where one licence's renewal stands on one night. `started`: a run holds it (until `leaseUntil`);
 * `applied`: renewed; `refused`: not renewed (the vendor's refusal, or settled as not applied);
 * `unknown`/`pending`: sent, outcome not known yet; `in_flight`: another renewal of the licence was in
 * flight, nothing sent; `in_progress`: the renewal's key was held by another (or a dead) run;
 * `skipped`: nothing sent, the licence no longer to renew when it came to it (autoRenew switched off).
 */
export type RenewalOutcome =
  | "started"
  | "applied"
  | "refused"
  | "unknown"
  | "pending"
  | "in_flight"
  | "in_progress"
  | "skipped";

export interface NightRenewal {
  licenceId: string;
  name: string;
  outcome: RenewalOutcome;
  /** The expiry before, and after when applied. */
  from: IsoDate | undefined;
  to: IsoDate | undefined;
  period: number;
  /** Why the watcher renewed it: due, early, lapsed. */
  reason: string;
  /** Why it was refused or awaits its outcome. */
  detail: string | undefined;
  /** The run that holds it while `started`, and until when (epoch ms). */
  run: string | undefined;
  leaseUntil: number | undefined;
  /** ISO instant of the last write. */
  at: string;
}

/** What the sync changed on a night, over all its runs. */
export interface NightSync {
  listed: number;
  added: number;
  updated: number;
  gone: number;
}

/** One night's record, read back for its summary. */
/**
 * Whether the balance covers the renewals the watcher will make in the next days, as the night found it
 * (in the catalogue's currency); `unavailable` says why no forecast could be made.
 */
export interface NightForecast {
  status: "covered" | "short" | "unavailable" | "nothing_due";
  days: number;
  currency: string | undefined;
  balanceMinor: number | undefined;
  balanceText: string | undefined;
  dueMinor: number;
  dueCount: number;
  firstDue: IsoDate | undefined;
  reason: string | undefined;
}

export interface NightRecord {
  renewals: NightRenewal[];
  /** Alerts the night recorded (not counting those already sent on an earlier night). */
  alerts: AlertKey[];
  sync: NightSync;
  /** The last run's balance forecast of the night, if it made one. */
  forecast: NightForecast | undefined;
}

/**
 * What each night did, kept in the register so its summary counts from there, not from one process's
 * memory: exact under concurrent runs and after kills.
 */
export interface NightLedger {
  /**
   * Takes the licence's renewal for this night (outcome `started`, leased to `renewal.run` until
   * `renewal.leaseUntil`): refused, with what is stored, when it was applied already or another run holds
   * a live lease on it.
   */
  begin(
    night: IsoDate,
    renewal: NightRenewal,
    nowMs: number,
  ): Promise<{ began: true } | { began: false; current: NightRenewal }>;
  /** Records the renewal's outcome; an applied one is never overwritten. What is stored after. */
  settle(night: IsoDate, renewal: NightRenewal): Promise<NightRenewal>;
  /**
   * Records the night's sync counts as one run found them in the register after its sync (whose writes
   * mark each licence with the night: `syncAddedOn`, `syncChangedOn`, `goneSince`), so every run counts
   * the whole night so far: a count only ever grows (a run that saw fewer, concurrently, never lowers it).
   */
  noteSync(night: IsoDate, sync: NightSync): Promise<void>;
  /** The night's balance forecast (a rerun's replaces an earlier one's: it read the balance later). */
  setForecast(night: IsoDate, forecast: NightForecast): Promise<void>;
  read(night: IsoDate): Promise<NightRecord>;
}

/** The register: everything the API and the watcher keep in DynamoDB. */
export interface Register {
  licences: LicenceStore;
  audit: AuditLog;
  idempotency: IdempotencyStore;
  alerts: AlertLedger;
  nights: NightLedger;
}
