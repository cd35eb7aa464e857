import { expiryCap, type Product, renewalsOpen } from "../catalogue/catalogue.ts";
import { addDays, addMonths, daysBetween, type IsoDate } from "../dates.ts";
import type { LicenceRecord } from "../ports/licence-store.ts";

export interface PlanSettings {
  renewalLeadDays: number;
  earlyRenewalDays: number;
  expiryAlertDays: number[];
}

export type RenewPeriod = 1 | 12;

/** Why the watcher renews a licence tonight. */
export interface Renewal {
  period: RenewPeriod;
  /** due: within the renewal lead; early: renewals close before its normal renewal night; lapsed: already expired. */
  reason: "due" | "early" | "lapsed";
}

/**
 * Why a licence set to renew automatically cannot be renewed: we suspended it on purpose; it was
 * suspended before it expired (by the reseller in the vendor's panel, or by the vendor); it is not
 * running yet (ordered, processing, or a status we do not know).
 */
export type Blocked = "suspended_by_desk" | "suspended_before_expiry" | "not_active";

export type RenewalDecision =
  | { action: "renew"; renewal: Renewal }
  | { action: "none" }
  /** It should renew, but the product's renewals are closed: it will end at its expiry. */
  | { action: "closed"; endsOn: IsoDate }
  /** It is due (within the lead, or lapsed) but cannot be renewed: staff must be told, never silence. */
  | { action: "blocked"; why: Blocked; lapsed: boolean };

/** Still exists at the vendor: not deleted there, not gone from its list. */
export function isLive(record: LicenceRecord): boolean {
  return record.status !== "deleted" && record.goneSince === undefined;
}

/** Succeeded by a licence on its IP, and to be retired (not kept alongside): never renewed again. */
export function retiring(record: LicenceRecord): boolean {
  return record.successorId !== undefined && record.retireOld !== "never";
}

/** Seen suspended at the vendor on or before its expiry day: suspended on purpose, not for non-payment. */
function suspendedWhileRunning(record: LicenceRecord): boolean {
  return (
    record.suspendedOn !== undefined &&
    record.expiresOn !== undefined &&
    record.suspendedOn <= record.expiresOn
  );
}

/**
 * The `suspendedOn` mark a licence's new vendor view calls for: set the day it is first seen suspended
 * while it still ran (before its expiry, or renewed and still suspended), kept while it stays suspended,
 * removed once it runs again; a licence seen suspended only after its expiry is taken as unpaid. Undefined
 * when the mark stays as it is.
 */
export function suspensionMark(
  before: Pick<LicenceRecord, "status" | "suspendedOn"> | undefined,
  after: Pick<LicenceRecord, "status" | "expiresOn">,
  night: IsoDate,
): Pick<LicenceRecord, "suspendedOn"> | undefined {
  const clear = before?.suspendedOn !== undefined ? { suspendedOn: undefined } : undefined;
  if (after.status !== "suspended") return clear;
  if (before?.status === "suspended" && before.suspendedOn !== undefined) return undefined;
  const running = after.expiresOn === undefined || after.expiresOn >= night;
  return running ? { suspendedOn: night } : clear;
}

/** The shortest period that takes the licence to the cap (the vendor trims it there), else the longest. */
function periodToCap(product: Product, expiresOn: IsoDate, cap: IsoDate): RenewPeriod {
  const periods = product.periods.filter((p): p is RenewPeriod => p === 1 || p === 12).sort((a, b) => a - b);
  return periods.find((p) => addMonths(expiresOn, p) >= cap) ?? periods.at(-1) ?? 12;
}

/**
 * Whether the watcher renews this licence tonight, and for how long. Only licences with our own
 * autoRenew set; active ones, or suspended by the vendor for non-payment (expired); never one we
 * suspended on purpose. One that is due but cannot be renewed is `blocked`, with the reason.
 */
export function decideRenewal(
  record: LicenceRecord,
  product: Product | undefined,
  tonight: IsoDate,
  settings: PlanSettings,
): RenewalDecision {
  const none = { action: "none" } as const;
  if (record.autoRenew === null || !isLive(record) || record.expiresOn === undefined) return none;
  // Carried on by its successor (and retired): paying for both would be paying twice for one server.
  if (retiring(record)) return none;
  const expiresOn = record.expiresOn;
  const lapsed = expiresOn < tonight;
  const lead = settings.renewalLeadDays;
  const due = daysBetween(tonight, expiresOn) <= lead;
  // Closed renewals first: whatever else holds it back, it ends at its expiry (and is told so).
  if (product && !renewalsOpen(product, tonight)) return { action: "closed", endsOn: expiresOn };
  if (record.suspendedBy === "desk") {
    return due ? { action: "blocked", why: "suspended_by_desk", lapsed } : none;
  }
  // Suspended before its expiry means suspended on purpose (by the reseller or the vendor): not ours to
  // renew, then or once it lapses. Only a suspension for non-payment (after the expiry) is renewed.
  const unpaid = record.status === "suspended" && lapsed && !suspendedWhileRunning(record);
  if (record.status !== "active" && !unpaid) {
    if (!due) return none;
    const why = record.status === "suspended" ? "suspended_before_expiry" : "not_active";
    return { action: "blocked", why, lapsed };
  }

  if (!product) {
    return due
      ? { action: "renew", renewal: { period: record.autoRenew, reason: lapsed ? "lapsed" : "due" } }
      : none;
  }

  const cap = expiryCap(product, tonight);
  if (cap !== undefined && expiresOn >= cap) return none; // already runs as long as the vendor allows

  const closeOn = product.lifecycle.renewalsCloseOn;
  const lateNormalNight = closeOn !== undefined && addDays(expiresOn, -lead) >= closeOn;
  const early =
    lateNormalNight && closeOn !== undefined && tonight >= addDays(closeOn, -settings.earlyRenewalDays);
  if (!due && !early) return none;

  let period: RenewPeriod = record.autoRenew;
  // If the renewal after this one would fall after the close, go straight to the cap now.
  if (closeOn !== undefined && cap !== undefined && addDays(addMonths(expiresOn, period), -lead) >= closeOn) {
    period = periodToCap(product, expiresOn, cap);
  }
  return { action: "renew", renewal: { period, reason: lapsed ? "lapsed" : due ? "due" : "early" } };
}

/**
 * The one alert distance due tonight before a date (an expiry, a lifecycle date), if any: the nearest
 * threshold already reached. A watcher that first sees a licence with 2 days left says "3 days", not
 * 14, 7 and 3 at once; the ledger keys each by its date, so a renewed licence is warned again later.
 */
export function nearestThreshold(date: IsoDate, tonight: IsoDate, thresholds: number[]): number | undefined {
  const left = daysBetween(tonight, date);
  if (left < 0) return undefined;
  const reached = thresholds.filter((t) => left <= t);
  return reached.length > 0 ? Math.min(...reached) : undefined;
}

/** What a renewal costs the reseller, in minor units, from the catalogue (nodes included). */
export function renewalCost(product: Product, period: RenewPeriod, nodes: number | undefined): number {
  const base = product.costMinor[String(period)] ?? 0;
  const perNode = product.nodes ? (product.nodes.costMinor[String(period)] ?? 0) : 0;
  return base + perNode * (product.nodes ? (nodes ?? product.nodes.min) : 0);
}

/** The night a licence with autoRenew would be renewed, looking ahead from tonight (for the balance forecast). */
export function renewalNight(
  record: LicenceRecord,
  product: Product | undefined,
  tonight: IsoDate,
  settings: PlanSettings,
  horizonDays: number,
): { night: IsoDate; renewal: Renewal } | undefined {
  // The decision changes only where one of its inputs does (the lead before expiry, the day after it,
  // the early window, the close, the cap): deciding on those nights alone finds the night a walk over
  // every night finds (test/watcher/plan.test.ts), at a fraction of the cost for a long horizon.
  // Never renewed by the watcher, whatever the night (`decideRenewal`): the most of a first import.
  if (record.autoRenew === null) return undefined;
  const last = addDays(tonight, horizonDays - 1);
  const { renewalsCloseOn: close, capFrom } = product?.lifecycle ?? {};
  const expiresOn = record.expiresOn;
  const candidates = [
    tonight,
    expiresOn && addDays(expiresOn, -settings.renewalLeadDays),
    expiresOn && addDays(expiresOn, 1),
    close && addDays(close, -settings.earlyRenewalDays),
    close,
    capFrom,
  ].filter((d): d is IsoDate => d !== undefined && d >= tonight && d <= last);
  for (const night of [...new Set(candidates)].sort()) {
    const decision = decideRenewal(record, product, night, settings);
    if (decision.action === "renew") return { night, renewal: decision.renewal };
    if (decision.action === "closed") return undefined;
  }
  return undefined;
}
