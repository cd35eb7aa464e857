import type { IsoDate } from "../dates.ts";
import type { AlertKey } from "./alert-ledger.ts";

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
  /** The first licences of each count (up to `SYNC_NAMED`), so the summary names them. */
  addedIds?: string[];
  updatedIds?: string[];
  goneIds?: string[];
  /**
   * Listed licences whose form (key, nodes) the night's last run did not begin (its time ran out, the
   * vendor throttled, or it was killed first): the next runs read them, those waiting longest first. A
   * form whose read failed is not counted: it is told and read again the next night. Absent where no
   * run counted them.
   */
  formsLeft?: number;
}

/** Licences of each sync count the summary names; the rest are in the register. */
export const SYNC_NAMED = 25;

/**
 * Whether the balance covers the renewals the watcher will make in the next days, as the night found it
 * (in the catalogue's currency); `unavailable` says why no forecast could be made.
 */
export interface NightForecast {
  status: "covered" | "short" | "unavailable" | "nothing_due";
  /**
   * The first night covered: tomorrow, the balance read after tonight's charges (absent in older
   * records, which counted tonight against the balance before them).
   */
  from?: IsoDate;
  /** Nights covered, from `from` through `until`. */
  days: number;
  /** The last night covered (absent in older records). */
  until?: IsoDate;
  currency: string | undefined;
  balanceMinor: number | undefined;
  balanceText: string | undefined;
  dueMinor: number;
  dueCount: number;
  /** Of `dueCount`, planned successors to order (the rest are renewals); absent in older records. */
  successorOrders?: number;
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
