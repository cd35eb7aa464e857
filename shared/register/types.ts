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
  /** ISO instant of the last time the vendor's view was read (sync, refresh, or our own call). */
  syncedAt?: string;
  /** ISO instant of the last write. */
  updatedAt: string;
  /** The night the licence was first missing from the vendor's list; kept, never dropped. */
  goneSince?: IsoDate;
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
  /** Creates or replaces the whole record. */
  put(record: LicenceRecord): Promise<void>;
  /**
   * Sets only these fields, leaving every other one as it is (a reseller's `autoRenew` set during the
   * night survives the sync). With `ifVersion`, only if the record is still at that version
   * (`StaleRecordError` otherwise). The record after the write; undefined when there is none.
   */
  update(id: string, changes: LicenceChanges, options?: { ifVersion?: number }): Promise<LicenceRecord | undefined>;
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

/** A stored answer, replayed for a repeated request. */
export interface StoredResponse {
  statusCode: number;
  body: unknown;
}

export interface IdempotencyRecord {
  /** Whose key it is: the API client's name, so two clients never share keys. */
  scope: string;
  key: string;
  /** SHA-256 of the request (method, path, body): the same key with another body is refused. */
  requestHash: string;
  /**
   * in_progress: the first request is running (until `lockedUntil`);
   * unknown: the vendor call's outcome is unknown and must be reconciled;
   * completed: `response` is the answer.
   */
  status: "in_progress" | "unknown" | "completed";
  /** What reconciliation needs (e.g. the expiry before a renewal). */
  context: Record<string, string>;
  response: StoredResponse | undefined;
  /** Epoch ms after which an in_progress record is presumed dead (its Lambda timed out). */
  lockedUntil: number;
  /** Epoch seconds; the table's TTL attribute. */
  expiresAt: number;
}

export type ClaimResult = { claimed: true } | { claimed: false; existing: IdempotencyRecord };

export interface IdempotencyStore {
  /**
   * Takes the key for a new request, atomically: succeeds only if no live record exists
   * (none, or one whose `expiresAt` has passed). Otherwise returns the existing record.
   */
  claim(record: Omit<IdempotencyRecord, "status" | "response">, nowMs: number): Promise<ClaimResult>;
  /** The record of a key, if any (a consistent read). */
  find(scope: string, key: string): Promise<IdempotencyRecord | undefined>;
  /** Records what reconciliation will need, before the money-moving call is sent. */
  saveContext(scope: string, key: string, context: Record<string, string>): Promise<void>;
  complete(scope: string, key: string, response: StoredResponse): Promise<void>;
  markUnknown(scope: string, key: string): Promise<void>;
  /** Forgets the key: the request provably did nothing, so the same key may be used again. */
  release(scope: string, key: string): Promise<void>;
}

/**
 * Which alerts were sent: one entry per (subject, kind, threshold), written before the alert goes
 * out, so a rerun or a concurrent run never sends it twice.
 */
export interface AlertLedger {
  /** Records the alert; false when it was recorded already. */
  claim(subject: string, kind: string, threshold: string, night: IsoDate): Promise<boolean>;
  /** Which of these are recorded already, as `subject|kind|threshold` (one batched read, not one each). */
  recorded(
    entries: ReadonlyArray<{ subject: string; kind: string; threshold: string }>,
  ): Promise<Set<string>>;
  /** Forgets it: the send provably failed, so a later run may send it. */
  release(subject: string, kind: string, threshold: string): Promise<void>;
}

/** The register: everything the API and the watcher keep in DynamoDB. */
export interface Register {
  licences: LicenceStore;
  audit: AuditLog;
  idempotency: IdempotencyStore;
  alerts: AlertLedger;
}
