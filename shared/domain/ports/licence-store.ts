import type { IsoDate } from "../dates.ts";
import type { LicenceStatus } from "./billing.ts";

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
  /** The licence this one succeeds (`POST /licenses/{id}/successor`): same IP, a later generation. */
  predecessorId?: string;
  /** The licence ordered to succeed this one, on the same IP. */
  successorId?: string;
  /**
   * What becomes of this licence once its successor is placed: deleted at the vendor by the watcher on
   * the first night after its expiry (`after_expiry`), right after the successor's order (`now`), or
   * left alone (`never`). Set with `successorId`.
   */
  retireOld?: RetireOld;
  /** The day the desk deleted it at the vendor as its successor's predecessor (set once, never twice). */
  retiredOn?: IsoDate;
  /**
   * A successor the watcher orders on a night (`PATCH /licenses/{id}` with `successor`); null: none, even
   * where the fleet-wide setting (`PLAN_SUCCESSORS`) would plan one. Ours: the sync never writes it.
   */
  successorPlan?: SuccessorPlan | null;
  /** Bumped by every write: a write made from an older read is refused (`StaleRecordError`). */
  version?: number;
}

export type RetireOld = "after_expiry" | "now" | "never";

/** A successor planned for a night: ordered by the watcher on `on` (or the first night after), once. */
export interface SuccessorPlan {
  period: 1 | 12;
  /** Default: the catalogue's successor of the licence's product. */
  product?: string;
  /** Default: 14 days before the licence stops working. */
  on?: IsoDate;
  retireOld: RetireOld;
  /** The night the watcher ordered it (or found one placed): a plan is carried out once, ever. */
  orderedOn?: IsoDate;
}

/**
 * What the desk stamps when it writes vendor fields from its own calls: one stamp per field group
 * (`status` with `statusCode`, `expiresOn` with `period`, `pricelist` with `product` and `nodes`), `form` for the whole form.
 */
export const DESK_WRITTEN = ["name", "ip", "key", "status", "expiresOn", "pricelist", "form"] as const;

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
   * A record whose licence has an item already is not written: its id is in `existing` (read it and
   * update it instead). What was created is returned as written (version 1), or with the autoRenew of
   * an order that claimed the id while it was written (an order whose record comes later keeps its own).
   */
  createMany(
    records: readonly LicenceRecord[],
    /** Batch writes in flight at once (4 when not given: a checked group of 100). */
    writesAtOnce?: number,
  ): Promise<{ created: LicenceRecord[]; existing: string[] }>;
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
