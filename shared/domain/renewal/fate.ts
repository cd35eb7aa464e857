import { expectedExpiry, expiryCap, type Product } from "../catalogue/catalogue.ts";
import { addDays, addMonths, type IsoDate } from "../dates.ts";
import { formatMoney } from "../money.ts";
import type { LicenceRecord } from "../ports/licence-store.ts";
import { api, fromNight, months } from "../wording.ts";
import {
  type Blocked,
  decideRenewal,
  isLive,
  type PlanSettings,
  type RenewPeriod,
  renewalCost,
  retiring,
} from "./renewal-rules.ts";

/**
 * What becomes of a licence, as far as the desk can tell: the one answer every alert and summary line
 * gives, so no two mails disagree. Decided by the same rules the watcher renews by.
 */
export type Fate =
  /**
   * The watcher renews it on `on` (a night to come), for `period` months, to `to` (`capped`: the last
   * day its product allows, short of the months paid for), at `costMinor` (the catalogue's price).
   */
  | {
      kind: "automatic";
      on: IsoDate;
      period: RenewPeriod;
      to: IsoDate;
      capped: boolean;
      costMinor: number | undefined;
      usual?: { period: number | null | undefined; closeOn: IsoDate | undefined };
    }
  /**
   * autoRenew is off: only a renewal by hand extends it, by `lastDay` if renewals close; it keeps
   * running only if renewed by its expiry (`expiresOn`).
   */
  | { kind: "manual"; lastDay: IsoDate | undefined; expiresOn?: IsoDate }
  /** Set to renew, but not due before renewals close: only a renewal by hand, by `lastDay`, extends it. */
  | { kind: "not_due"; closeOn: IsoDate; lastDay: IsoDate }
  /** Set to renew automatically, but the watcher will not when it is due (on `on`): staff must act. */
  | { kind: "blocked"; why: Blocked; on: IsoDate }
  /** It can never be renewed again: it stops working after `on`. */
  | { kind: "ends"; on: IsoDate; why: "renewals_closed"; closedOn: IsoDate }
  | { kind: "ends"; on: IsoDate; why: "at_cap"; cap: IsoDate }
  /** Carried on by its successor: never renewed, deleted at the vendor after its expiry (`retireOn`) or now. */
  | { kind: "succeeded"; successorId: string; retireOn: IsoDate | undefined }
  /** Deleted at the vendor, or gone from its list. */
  | { kind: "gone"; deleted: boolean }
  /** The vendor has not told us its expiry yet. */
  | { kind: "unknown" };

/**
 * The last day a renewal by hand can still extend a licence, if renewals close: the day before they
 * close, or, for one that already runs past the cap renewals get from `capFrom`, the day before that.
 */
function lastHandDay(product: Product | undefined, expiresOn: IsoDate): IsoDate | undefined {
  const { renewalsCloseOn, capFrom, lastValidDay } = product?.lifecycle ?? {};
  if (renewalsCloseOn === undefined) return undefined;
  const capped = capFrom !== undefined && lastValidDay !== undefined && expiresOn >= lastValidDay;
  return addDays(capped && capFrom < renewalsCloseOn ? capFrom : renewalsCloseOn, -1);
}

/**
 * The licence's fate as told the morning after `night`'s run: a renewal by hand may still happen that
 * day (the night's date decides whether renewals are open); the watcher's next automatic renewal is on
 * a night to come. Walks those nights, deciding as the watcher will, until its last chance to renew
 * (the lead before expiry, or tomorrow for a lapsed one); the first decision that is not "wait" is its
 * fate.
 */
export function fateOf(
  record: LicenceRecord,
  product: Product | undefined,
  night: IsoDate,
  settings: PlanSettings,
): Fate {
  if (!isLive(record)) return { kind: "gone", deleted: record.status === "deleted" };
  const expiresOn = record.expiresOn;
  if (retiring(record) && record.successorId !== undefined) {
    const retireOn = record.retireOld === "after_expiry" && expiresOn ? addDays(expiresOn, 1) : undefined;
    return { kind: "succeeded", successorId: record.successorId, retireOn };
  }
  if (expiresOn === undefined) return { kind: "unknown" };
  const closeOn = product?.lifecycle.renewalsCloseOn;
  if (closeOn !== undefined && night >= closeOn)
    return { kind: "ends", on: expiresOn, why: "renewals_closed", closedOn: closeOn };
  const cap = product ? expiryCap(product, night) : undefined;
  if (cap !== undefined && expiresOn >= cap) return { kind: "ends", on: expiresOn, why: "at_cap", cap };
  const lastDay = lastHandDay(product, expiresOn);
  if (record.autoRenew === null) return { kind: "manual", lastDay, expiresOn };

  // The watcher's decision for a night changes only where one of its inputs does: the lead before
  // expiry, the day after expiry, the early window, the close, the cap. Deciding on those nights alone
  // finds the same first night a walk over every night would (3.6 s for 10,000 licences walked).
  const next = addDays(night, 1);
  const last = addDays(expiresOn, -settings.renewalLeadDays);
  // biome-ignore lint/complexity/useMathMinMax: ISO dates are strings, compared as text
  const bound = last > next ? last : next;
  const { capFrom } = product?.lifecycle ?? {};
  const candidates = [
    next,
    last,
    addDays(expiresOn, 1),
    closeOn && addDays(closeOn, -settings.earlyRenewalDays),
    closeOn,
    capFrom,
  ].filter((d): d is IsoDate => d !== undefined && d >= next && d <= bound);
  for (const on of [...new Set(candidates)].sort()) {
    const decision = decideRenewal(record, product, on, settings);
    if (decision.action === "renew") {
      const { period } = decision.renewal;
      const to = expectedExpiry(product, expiresOn, period, on);
      return {
        kind: "automatic",
        on,
        period,
        to,
        capped: to < addMonths(expiresOn, period),
        costMinor: product ? renewalCost(product, period, record.nodes) : undefined,
        usual: { period: record.autoRenew, closeOn },
      };
    }
    if (decision.action === "blocked") return { kind: "blocked", why: decision.why, on };
    if (decision.action === "closed") break;
  }
  // Renewals close (or cap it) before it is due: only a hand renewal, while they are open, extends it.
  return closeOn !== undefined && lastDay !== undefined
    ? { kind: "not_due", closeOn, lastDay }
    : { kind: "manual", lastDay, expiresOn };
}

/**
 * The licence's state in words, where it is not simply running: "suspended by the vendor since
 * 2021-07-01", "expired on 2021-05-20, suspended since 2021-05-21". Undefined for one that runs.
 */
export function licenceState(record: LicenceRecord, night: IsoDate): string | undefined {
  const expired = record.expiresOn !== undefined && record.expiresOn < night;
  if (record.status === "deleted")
    return record.retiredOn ? `retired on ${record.retiredOn}` : "deleted at the vendor";
  if (record.status === "suspended") {
    if (record.suspendedBy === "desk") return "suspended through the desk";
    const since =
      record.suspendedOn ?? (expired && record.expiresOn ? addDays(record.expiresOn, 1) : undefined);
    return expired
      ? `expired on ${record.expiresOn}, suspended${since ? ` since ${since}` : ""}`
      : `suspended by the vendor${since ? ` since ${since}` : ""}`;
  }
  if (expired) return `expired on ${record.expiresOn}`;
  if (record.status === "processing" || record.status === "ordered") return "not running yet (being set up)";
  return undefined;
}

/** When a licence went down (suspended by the vendor, or lapsed), for the weekly reminder; undefined when it runs. */
export function downSince(record: LicenceRecord, night: IsoDate): IsoDate | undefined {
  if (!isLive(record) || record.suspendedBy === "desk" || retiring(record)) return undefined;
  const lapsed =
    record.expiresOn !== undefined && record.expiresOn < night ? addDays(record.expiresOn, 1) : undefined;
  if (record.status === "suspended") {
    const since = record.suspendedOn ?? lapsed;
    // biome-ignore lint/complexity/useMathMinMax: ISO dates are strings, compared as text
    return since !== undefined && lapsed !== undefined ? (since < lapsed ? since : lapsed) : since;
  }
  return lapsed;
}

const BLOCKED_WHY: Record<Blocked, string> = {
  suspended_by_desk: "it was suspended through the desk, and the watcher never renews a licence we suspended",
  suspended_before_expiry:
    "the vendor shows it suspended before its expiry, not by us (in the vendor's panel, or by the vendor)",
  not_active: "it is not running yet (the vendor has not finished setting it up)",
};

/**
 * The fate in one line, as the "Renewal:" line of a licence's alerts and its line in a summary. The
 * words "renews automatically" and "cannot be renewed" appear only here, and only for their fates.
 */
export function fateLine(
  fate: Fate,
  night: IsoDate,
  product: Product | undefined,
  /** The catalogue's currency, to price an automatic renewal. */
  currency?: string,
): string {
  const title = product?.title ?? "this product";
  switch (fate.kind) {
    case "automatic":
      return `renews automatically ${fromNight(night, fate.on)}: ${renewalWords(fate, title, currency)}`;
    case "manual":
      if (fate.lastDay === undefined) return "renews only by hand (automatic renewal is off)";
      // Renewable after its expiry, but down from the day after: the date that keeps it running first.
      if (fate.expiresOn !== undefined && fate.expiresOn < fate.lastDay)
        return fate.expiresOn >= night
          ? `renews only by hand (automatic renewal is off): by ${fate.expiresOn} to keep it running (${title} renewals are taken until ${fate.lastDay})`
          : `renews only by hand (automatic renewal is off): it stopped working after ${fate.expiresOn}; a renewal by ${fate.lastDay} brings it back, and ${title} renewals close the day after`;
      return `renews only by hand (automatic renewal is off), on ${fate.lastDay} at the latest: ${title} renewals close the day after`;
    case "not_due":
      return `will not renew automatically: it is not due before ${title} renewals close on ${fate.closeOn}; only a renewal by hand, by ${fate.lastDay}, extends it`;
    case "blocked":
      return `set to renew automatically ${fromNight(night, fate.on)}, but will not: ${BLOCKED_WHY[fate.why]}`;
    case "ends":
      return fate.why === "renewals_closed"
        ? `cannot be renewed: ${title} renewals ${fate.closedOn <= night ? "closed" : "close"} on ${fate.closedOn}; it stops working after ${fate.on}`
        : fate.on > fate.cap
          ? `cannot be renewed: it runs to ${fate.on}, past ${fate.cap}, the latest end ${title} allows a renewal to reach (bought before ${product?.lifecycle.capFrom ?? "the cap"}, it is LTS: long-term support to its own expiry)`
          : `cannot be renewed: it already runs to ${fate.cap}, the last day ${title} allows; it stops working after that day`;
    case "succeeded":
      return `succeeded by licence ${fate.successorId} on the same IP: never renewed again; the watcher deletes it at the vendor ${fate.retireOn && fate.retireOn > night ? fromNight(night, fate.retireOn) : "from tonight"}, once licence ${fate.successorId} runs`;
    case "gone":
      return fate.deleted ? "deleted at the vendor" : "gone from the vendor's list";
    case "unknown":
      return "not known yet: the vendor has not reported its expiry";
  }
}

/**
 * "to 2021-12-31 (the last day ISPmanager 5 Lite allows), 60.00 EUR for 12 months": where a renewal
 * leads and what it costs, so no mail says "12 months" of one that runs 7.
 */
export function renewalWords(
  renewal: {
    to: IsoDate | undefined;
    capped: boolean;
    period: number;
    costMinor: number | undefined;
    /** The period the licence is set to renew for, and the renewals close: a longer one is explained. */
    usual?: { period: number | null | undefined; closeOn: IsoDate | undefined };
  },
  title: string,
  currency: string | undefined,
): string {
  const to =
    renewal.to === undefined
      ? ""
      : `to ${renewal.to}${renewal.capped ? ` (the last day ${title} allows)` : ""}, `;
  const price =
    renewal.costMinor !== undefined && currency !== undefined
      ? `${formatMoney({ minor: renewal.costMinor, currency })} for `
      : "for ";
  const { usual } = renewal;
  // Set to renew monthly, and the next month's renewal would come after renewals close: this one is
  // the last, so it runs as far as the product allows.
  const why =
    usual?.period != null && usual.period !== renewal.period && usual.closeOn !== undefined
      ? ` (not its usual ${months(usual.period)}: the last renewal before ${title} renewals close on ${usual.closeOn})`
      : "";
  return `${to}${price}${months(renewal.period)}${why}`;
}

/** The product a licence moves to (the catalogue's successor of its own), with its yearly price in words. */
export interface SuccessorProduct {
  product: Product;
  /** "70.00 EUR a year", where the catalogue prices a year. */
  price: string | undefined;
}

/** A successor the watcher will order for the licence (its plan, not carried out yet), in words. */
export interface PlannedSuccessorWords {
  product: Product;
  /** The night the watcher orders it (tonight's date or later: a missed night is made up tonight). */
  on: IsoDate;
  period: number;
  /** "700.00 EUR for 12 months", where the catalogue prices that period. */
  price: string | undefined;
}

/** "the watcher orders its successor, ISPmanager 6 Lite for 12 months (70.00 EUR), on 2021-12-17". */
export function plannedWords(planned: PlannedSuccessorWords, night: IsoDate): string {
  const when = planned.on > night ? `on ${planned.on}` : "tonight";
  return `the watcher orders its successor, ${planned.product.title} for ${months(planned.period)}${planned.price ? ` (${planned.price})` : ""}, ${when}, as planned`;
}

/**
 * The way forward for a licence nothing can extend: to its successor, if it has one, or the one planned
 * for a night, or to the catalogue's successor product through the call that orders it; by its last
 * day, or now once past it.
 */
function moveTo(
  licence: LicenceRecord,
  on: IsoDate,
  night: IsoDate,
  successor: SuccessorProduct | undefined,
  planned: PlannedSuccessorWords | undefined,
): string {
  const when = on >= night ? `by ${on}` : `now (it stopped working after ${on})`;
  if (licence.successorId !== undefined)
    return `move the server to its successor, licence ${licence.successorId}, ${when}, with its key (${api.key(licence.successorId)})`;
  if (planned)
    return `nothing to order by hand: ${plannedWords(planned, night)}, on the same IP; then move the server to it ${when}`;
  if (!successor) return `move the server to a licence of a product that is still sold ${when}`;
  const period = successor.product.periods.includes(12) ? 12 : (successor.product.periods[0] ?? 1);
  return `move the server to ${successor.product.title}${successor.price ? ` (${successor.price})` : ""} ${when}: order it on the same IP (${api.successor(licence.id, period)}), and the watcher deletes this one after its expiry`;
}

/** "renew it by hand by 2021-05-20 to keep it running (renewals are taken until 2021-06-14)". */
function manualWhen(fate: Extract<Fate, { kind: "manual" }>, night: IsoDate): string {
  const { lastDay, expiresOn } = fate;
  if (lastDay === undefined) return "renew it by hand";
  if (expiresOn === undefined || expiresOn >= lastDay) return `renew it by hand by ${lastDay}`;
  return expiresOn >= night
    ? `renew it by hand by ${expiresOn} to keep it running (renewals are taken until ${lastDay})`
    : `renew it by hand by ${lastDay} if the server still needs it (it stopped working after ${expiresOn})`;
}

/** What staff do about it, with the licence filled in; undefined where nothing is to be done. */
export function fateAction(
  fate: Fate,
  licence: LicenceRecord,
  product: Product | undefined,
  night: IsoDate,
  successor?: SuccessorProduct,
  planned?: PlannedSuccessorWords,
): string | undefined {
  const period = licence.autoRenew ?? licence.period ?? product?.periods[0] ?? 1;
  switch (fate.kind) {
    case "automatic":
      return undefined;
    case "manual":
      return `${manualWhen(fate, night)} (${api.renew(licence.id, period)}), or switch automatic renewal on and the watcher renews it (${api.autoRenewOn(licence.id, period)})`;
    case "not_due":
      return `if it should run past ${licence.expiresOn}, renew it by hand by ${fate.lastDay} (${api.renew(licence.id, period)})`;
    case "blocked":
      return fate.why === "suspended_by_desk"
        ? `if it should run on, resume it (${api.resume(licence.id)}) and the watcher renews it; if not, switch automatic renewal off (${api.autoRenewOff(licence.id)})`
        : fate.why === "suspended_before_expiry"
          ? `check it in the vendor's panel and resume it there if it should run (the watcher then renews it); a renewal alone would be charged and not resume it`
          : `check the order in the vendor's panel; once it runs, the watcher renews it, or renew it by hand (${api.renew(licence.id, period)})`;
    case "ends":
      return `${moveTo(licence, fate.on, night, successor, planned)}; nothing can extend this one`;
    case "succeeded":
      return `make sure the server runs on licence ${fate.successorId}, with its key (${api.key(fate.successorId)})`;
    case "gone":
      if (licence.successorId !== undefined)
        return `make sure the server runs on its successor, licence ${licence.successorId}, with its key (${api.key(licence.successorId)})`;
      return successor
        ? `if the server still needs a licence, order ${successor.product.title} for it (${api.order(successor.product)})`
        : "if the server still needs a licence, order one of a product that is still sold";
    case "unknown":
      return `read it again from the vendor (${api.refresh(licence.id)})`;
  }
}
