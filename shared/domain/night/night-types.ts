import type { Alert } from "../alerts/alerts.ts";
import type { Catalogue } from "../catalogue/catalogue.ts";
import type { IsoDate } from "../dates.ts";
import type { IdempotencySettings } from "../licences/idempotency-settings.ts";
import type { BillingClient } from "../ports/billing.ts";
import type { LicenceRecord } from "../ports/licence-store.ts";
import type { NightForecast } from "../ports/night-ledger.ts";
import type { Notifier } from "../ports/notifier.ts";
import type { Register } from "../ports/register.ts";
import type { Blocked, PlanSettings, Renewal } from "../renewal/renewal-rules.ts";

/**
 * What a night works with (its dependencies and settings) and what it reports: the phases and the
 * night that runs them both read these, so none of them imports another to know its shape.
 */

export interface WatcherSettings extends PlanSettings {
  /** From this many alerts of one kind about single licences in a night, they go out as one digest. */
  digestMin: number;
  lifecycleAlertDays: number[];
  balanceForecastDays: number;
  expiringSoonDays: number;
  vendorConcurrency: number;
  registerConcurrency: number;
  /** A successor planned for every licence set to renew whose product has one (`PLAN_SUCCESSORS`). */
  planSuccessors: boolean;
  /** Which nights mail a summary (`SUMMARY_MAILS`): every night, with news, weekly, or both of those. */
  summaryMails: "nightly" | "changes" | "weekly" | "changes_weekly";
  /**
   * How long a run holds an alert it is sending against another run (ms): longer than a send takes,
   * shorter than Lambda's first retry of a killed run (one minute).
   */
  sendLeaseMs: number;
  /**
   * Time kept, after the night stops reading forms, to finish: a form read in flight (the vendor
   * client's timeout), the summary and the sends. 60 s when not given.
   */
  finishReserveMs?: number;
}

export interface WatcherDeps {
  billing: BillingClient;
  register: Register;
  catalogue: Catalogue;
  notifier: Notifier;
  settings: WatcherSettings;
  idempotency: IdempotencySettings;
  /** Settles unknown money outcomes before the night decides anything (the desk's reconciler). */
  reconcile?: (at: Date) => Promise<void>;
  /** Wall-clock ms for leases; `Date.now` unless a test moves time. */
  nowMs?: () => number;
  /**
   * The time this invocation has left (ms), read once as the night begins: Lambda's remaining time, or
   * `--budget-seconds` locally. The night stops reading forms in time to finish (`finishReserveMs`).
   * Unbounded when not given.
   */
  remainingMs?: () => number;
}

export interface RenewedLicence {
  id: string;
  name: string;
  from: IsoDate | undefined;
  to: IsoDate | undefined;
  period: number;
  reason: Renewal["reason"];
}

/** What one run of a night did. The night's own counts, over all its runs, are in `tonight`. */
export interface NightReport {
  night: IsoDate;
  sync: { listed: number; added: number; updated: number; gone: number; unchanged: number };
  /** Licence records written by the sync (renewals, audit and alerts write besides). */
  syncWrites: number;
  /**
   * Why the vendor's list could not be proven complete tonight (then no licence was marked gone);
   * undefined when it was.
   */
  listIncomplete: string | undefined;
  /** Renewed by this run. */
  renewed: RenewedLicence[];
  failed: Array<{ id: string; name: string; reason: string }>;
  /** Sent, outcome not known yet (unknown or pending): awaiting it, not failed. */
  unknown: Array<{ id: string; name: string }>;
  /** Renewals another run (or another renewal of the licence) was doing: awaiting, not failed. */
  busy: string[];
  /** Renewed by an earlier call under tonight's key (a run that was interrupted), found by this one. */
  renewedElsewhere: RenewedLicence[];
  /** No longer to renew when it came to it (autoRenew switched off during the night): nothing sent. */
  skipped: Array<{ id: string; name: string; reason: string }>;
  /** Succeeded licences this run deleted at the vendor after their expiry (each once, ever). */
  retired: Array<{ id: string; name: string; successorId: string }>;
  /** Planned successors this run ordered (each plan once, ever). */
  successorsOrdered: Array<{ id: string; name: string; successorId: string }>;
  /** Planned successors refused tonight (nothing charged; alerted, tried again tomorrow). */
  successorsFailed: Array<{ id: string; name: string; reason: string }>;
  /** Planned successors sent and not known yet, or another order of the IP open: settled later. */
  successorsAwaiting: Array<{ id: string; name: string }>;
  /** Succeeded licences kept past their expiry: their successor does not run (alerted). */
  retireHeld: Array<{ id: string; name: string; why: string }>;
  /** Set to renew and due, but not renewable (suspended, not running): alerted. */
  blocked: Array<{ id: string; name: string; why: Blocked }>;
  /** Mails sent by this run (a rerun sends none already sent). */
  sent: Alert[];
  /** Alerts due but already in the ledger. */
  alreadySent: number;
  /** Mails whose sending failed (left pending, so the next run sends them). */
  undelivered: number;
  /** The summary waits for a renewal another live run still holds: that run sends it. */
  summaryDeferred: boolean;
  expiringSoon: LicenceRecord[];
  /**
   * The licences' forms (key, nodes) this run read, of those due; the rest are left for the next runs
   * (`stopped`: the run's time ran out, or the vendor throttled a read (`throttled`), first; otherwise
   * every due form was read).
   */
  forms: { due: number; read: number; failed: number; left: number; stopped: boolean; throttled: boolean };
  /** Live licences nothing can renew any more (renewals closed, or already at the vendor's cap). */
  pastCutoff: number;
  /** Tonight's balance forecast, as recorded for the summary. */
  forecast: NightForecast | undefined;
  /** The night's renewals as the register counts them, over every run of the night so far. */
  tonight: NightCounts;
}

/** The night's counts as the register holds them. */
export interface NightCounts {
  renewed: number;
  failed: number;
  /** Sent and not known yet, in flight elsewhere, or held by a run (live or interrupted). */
  awaiting: number;
}
