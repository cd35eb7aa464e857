import type { Product } from "../catalogue/catalogue.ts";
import { addDays, addMonths, daysBetween, type IsoDate } from "../dates.ts";
import { formatMoney } from "../money.ts";
import type { LicenceRecord } from "../ports/licence-store.ts";
import type { Alert, AlertKind, Severity } from "../ports/notifier.ts";
import {
  downSince,
  type Fate,
  fateAction,
  fateLine,
  licenceState,
  type PlannedSuccessorWords,
  plannedWords,
  renewalWords,
  type SuccessorProduct,
} from "../renewal/fate.ts";
import { type RenewPeriod, renewalCost } from "../renewal/renewal-rules.ts";
import { api, count, fromNight, howLines, months, splitCalls } from "../wording.ts";
import { KIND_NAMES } from "./alert-kinds.ts";

export type { Alert, AlertKind, Severity } from "../ports/notifier.ts";

/** SNS takes subjects of fewer than 100 characters. */
const TITLE_MAX = 99;

function title(text: string): string {
  return text.length <= TITLE_MAX ? text : `${text.slice(0, TITLE_MAX - 3)}...`;
}

/** A licence as the alerts see it: its record, product, and fate from the night after tonight's renewals. */
export interface Told {
  licence: LicenceRecord;
  product: Product | undefined;
  fate: Fate;
  /** The catalogue's successor of its product, where it names one. */
  successor?: SuccessorProduct | undefined;
  /** The successor the watcher will order for it, where one is planned. */
  planned?: PlannedSuccessorWords | undefined;
  /** The catalogue's currency: a renewal the watcher will make is told with its price. */
  currency?: string | undefined;
}

/** The lines every licence alert starts with, so staff can find it without looking anything up. */
function facts({ licence, product, fate, currency }: Told, night: IsoDate): string {
  return [
    `Licence:  ${licence.name} (id ${licence.id})`,
    `IP:       ${licence.ip}`,
    `Product:  ${product?.title ?? `pricelist ${licence.pricelist}`}${licence.nodes ? `, ${count(licence.nodes, "node")}` : ""}`,
    `Status:   ${licence.status}${licenceState(licence, night) ? ` (${licenceState(licence, night)})` : ""}`,
    `Expires:  ${licence.expiresOn ?? "not known yet"}`,
    `Renewal:  ${fateLine(fate, night, product, currency)}`,
  ].join("\n");
}

const label = (licence: LicenceRecord) => `${licence.name} (${licence.ip})`;

interface LicenceMail {
  kind: AlertKind;
  severity: Severity;
  threshold: string;
  heading: string;
  /** What has happened, if the heading does not say it all. */
  what?: string[];
  next: string;
  /** Defaults to the fate's action. */
  todo?: string | undefined;
}

function licenceAlert(night: IsoDate, told: Told, mail: LicenceMail): Alert {
  const action =
    mail.todo ??
    fateAction(told.fate, told.licence, told.product, night, told.successor, told.planned) ??
    "nothing";
  const todo = /[.!?]$/.test(action) ? action : `${action}.`;
  const { words, calls: todoCalls } = splitCalls(todo);
  const calls = [...(mail.what ?? []).flatMap((line) => splitCalls(line).calls), ...todoCalls];
  return {
    kind: mail.kind,
    severity: mail.severity,
    title: title(`[licence desk] ${mail.heading}`),
    body: [
      facts(told, night),
      ...(mail.what ?? []).map((line) => splitCalls(line).words),
      `What happens next: ${mail.next}`,
      `What to do: ${words.charAt(0).toUpperCase()}${words.slice(1)}`,
      ...(calls.length > 0 ? [howLines(calls).join("\n")] : []),
      "",
    ].join("\n\n"),
    licenceId: told.licence.id,
    night,
    ledger: { subject: `licence:${told.licence.id}`, threshold: mail.threshold },
    action: todo,
  };
}

/** What follows the expiry of a licence nobody renews, from the vendor's habits. */
function afterExpiry(expiresOn: IsoDate): string {
  return `the licence stops working after ${expiresOn}; the vendor suspends it, then deletes it about 30 days later (around ${addDays(expiresOn, 30)}).`;
}

/** The next step of a licence, from its fate (the night's renewals done). */
function nextFor({ fate }: Told, night: IsoDate, expiresOn: IsoDate): string {
  switch (fate.kind) {
    case "automatic":
      return `the watcher renews it ${fromNight(night, fate.on)} for ${months(fate.period)}.`;
    case "blocked":
      return `the watcher will not renew it, so ${afterExpiry(expiresOn)}`;
    case "ends":
      return `nothing can extend it: ${afterExpiry(expiresOn)}`;
    case "succeeded":
      return `it is not renewed: licence ${fate.successorId} carries the server on.`;
    default:
      return `unless it is renewed, ${afterExpiry(expiresOn)}`;
  }
}

export const alerts = {
  /** `threshold` is the alert distance reached (14, 7, 3, 1); the title counts the days actually left. */
  expiry(night: IsoDate, told: Told, threshold: number): Alert {
    const expiresOn = told.licence.expiresOn as IsoDate;
    const left = daysBetween(night, expiresOn);
    return licenceAlert(night, told, {
      kind: "expiry",
      severity: left <= 1 ? "critical" : left <= 3 ? "warning" : "info",
      threshold: `${expiresOn}:${threshold}`,
      heading: `${label(told.licence)} expires ${fromNight(night, expiresOn)}`,
      next: nextFor(told, night, expiresOn),
    });
  },

  /**
   * Past its expiry and not renewed. The vendor suspending it for non-payment is the usual course, said
   * here: it is no separate "suspended by the vendor" story.
   */
  expired(night: IsoDate, told: Told): Alert {
    const expiresOn = told.licence.expiresOn as IsoDate;
    const { licence } = told;
    const suspended = licence.status === "suspended";
    // Suspended while it still ran, not by us: on purpose, and a renewal does not resume it.
    const onPurpose =
      suspended &&
      !licence.suspendedBy &&
      licence.suspendedOn !== undefined &&
      licence.suspendedOn <= expiresOn;
    const deleted = `the vendor deletes it about 30 days after its expiry (around ${addDays(expiresOn, 30)})`;
    return licenceAlert(night, told, {
      kind: "expired",
      severity: "critical",
      threshold: `${expiresOn}:expired`,
      heading: `${label(licence)} expired ${fromNight(night, expiresOn)}`,
      what: [
        onPurpose
          ? `It was suspended before its expiry, not by us (in the vendor's panel, or by the vendor): the desk first saw it suspended ${fromNight(night, licence.suspendedOn ?? expiresOn)}. It was not renewed.`
          : suspended
            ? "The vendor has suspended it for non-payment, as it does with every licence not renewed by its expiry."
            : "It has not been renewed; the vendor suspends it for non-payment.",
      ],
      next:
        told.fate.kind === "ends"
          ? `nothing can extend it; ${deleted}.`
          : onPurpose
            ? `${deleted} unless it is renewed; a renewal does not resume a licence suspended on purpose.`
            : `${deleted} unless it is renewed; a renewal resumes it.`,
      ...(onPurpose &&
        told.fate.kind !== "ends" && {
          todo: `check it in the vendor's panel; if it should run, resume it there first, then renew it by hand (${api.renew(licence.id, licence.autoRenew ?? licence.period ?? 1)}); if not, nothing`,
        }),
    });
  },

  /**
   * Set to renew automatically, and it never will again: told once per end date. The licences of one
   * product that renewals closing turns so on one night go out as one mail (`group`).
   */
  cannotRenew(night: IsoDate, told: Told & { fate: Extract<Fate, { kind: "ends" }> }): Alert {
    const { fate, product } = told;
    const alert = licenceAlert(night, told, {
      kind: "cannot_renew",
      // Critical once the licence stops within a week: until then there is time to move it.
      severity: daysBetween(night, fate.on) <= 7 ? "critical" : "warning",
      threshold: fate.on,
      heading: `${label(told.licence)} cannot be renewed: it stops working after ${fate.on}`,
      what: ["It is set to renew automatically, but no renewal can extend it any more."],
      next: `${afterExpiry(fate.on)}`,
    });
    if (!product || fate.why !== "renewals_closed") return alert;
    return {
      ...alert,
      group: {
        key: `cannot_renew:${product.id}:${night}`,
        subject: `${product.title}: renewals closed ${fromNight(night, fate.closedOn).replace(/ \(.*\)$/, "")}`,
        lead: `${product.title} renewals closed on ${fate.closedOn}. These licences are set to renew automatically, but no renewal can extend them any more: each stops working after its expiry, and the vendor deletes it about 30 days later.`,
      },
    };
  },

  renewalFailed(night: IsoDate, told: Told, reason: string, how: RefusedHow): Alert {
    const expiresOn = told.licence.expiresOn ?? night;
    return licenceAlert(night, told, {
      kind: "renewal_failed",
      severity: "critical",
      // One per licence and night, whatever its expiry reads by then (a rerun may see it moved).
      threshold: night,
      heading: `Renewal failed: ${label(told.licence)}`,
      what: [REFUSED[how](reason)],
      next:
        told.fate.kind === "automatic"
          ? `the watcher tries again ${fromNight(night, told.fate.on)}; if the cause stays, it fails again.`
          : nextFor(told, night, expiresOn),
      todo:
        told.fate.kind === "automatic"
          ? `fix the cause (most often a low balance: top up the vendor account), or renew it by hand now: ${api.renew(told.licence.id, told.fate.period)}`
          : undefined,
    });
  },

  renewalUnknown(night: IsoDate, told: Told): Alert {
    return licenceAlert(night, told, {
      kind: "renewal_unknown",
      severity: "warning",
      threshold: night,
      heading: `Renewal outcome unknown: ${label(told.licence)}`,
      what: [
        "Tonight's renewal was sent, and the vendor did not confirm it, so it may or may not have been charged.",
      ],
      next: "it is never sent again blindly. Once the vendor has had time to act, the reconciler (or the next night) decides it from the vendor's exact expiry date, and the next summary says which.",
      todo: "nothing, unless a later summary still lists it. Do not renew it by hand meanwhile: that could pay twice.",
    });
  },

  /** Set to renew and due (or lapsed), but the watcher will not renew it. */
  renewalBlocked(night: IsoDate, told: Told & { fate: Extract<Fate, { kind: "blocked" }> }, lapsed: boolean) {
    const expiresOn = told.licence.expiresOn as IsoDate;
    return licenceAlert(night, told, {
      kind: "renewal_blocked",
      severity: "critical",
      threshold: `${expiresOn}:${told.fate.why}:${lapsed ? "lapsed" : "due"}`,
      heading: `Will not renew automatically: ${label(told.licence)} ${lapsed ? "expired" : "expires"} ${expiresOn}`,
      what: [
        `It is set to renew automatically and is ${lapsed ? "past its expiry" : "due for renewal"}, but the watcher will not renew it.`,
      ],
      next: nextFor(told, night, expiresOn),
    });
  },

  /**
   * Suspended before its expiry, and not by us (an expired one's suspension is the `expired` alert's).
   * Once per suspension: keyed by the day it was first seen (`suspendedOn`), whoever saw it.
   */
  vendorSuspended(night: IsoDate, told: Told, renewedTonight?: boolean): Alert {
    const since = told.licence.suspendedOn ?? night;
    return licenceAlert(night, told, {
      kind: "vendor_suspended",
      // The server's ISPmanager stops working now, and staff can resume it: critical.
      severity: "critical",
      threshold: since,
      heading: `Suspended before its expiry: ${label(told.licence)}`,
      what: [
        "The vendor's list shows this licence suspended before its expiry, and the desk did not suspend it: someone suspended it in the vendor's panel, or the vendor did.",
        ...(since < night ? [`The desk first saw it suspended ${fromNight(night, since)}.`] : []),
        ...(renewedTonight
          ? [
              `Tonight's renewal was charged and runs it to ${told.licence.expiresOn ?? "its new expiry"}, but the vendor keeps it suspended: a renewal does not resume a licence suspended on purpose. The watcher does not renew it again.`,
            ]
          : []),
      ],
      next: "it stays suspended; the server's ISPmanager stops working meanwhile.",
      todo: `check it in the vendor's panel; if it should run, resume it there, or through the desk (${api.resume(told.licence.id)}).`,
    });
  },

  /** A succeeded licence deleted at the vendor by the desk, as planned: once (keyed by its expiry). */
  licenceRetired(
    night: IsoDate,
    told: Told,
    successorId: string,
    when: "tonight" | "today" = "tonight",
  ): Alert {
    return licenceAlert(night, told, {
      kind: "licence_retired",
      severity: "info",
      threshold: told.licence.expiresOn ?? night,
      heading: `Retired, its successor running: ${label(told.licence)}`,
      what: [
        when === "tonight"
          ? `The desk deleted it at the vendor tonight, as planned when its successor was ordered: licence ${successorId} runs on the same IP.`
          : `The desk deleted it at the vendor today, right after its successor was placed, as its order asked (to retire the old licence at once): licence ${successorId} runs on the same IP.`,
      ],
      next: "nothing: the desk keeps its record, marked deleted, with its successor's id.",
      todo: `make sure the server runs on licence ${successorId}, with its key (${api.key(successorId)}).`,
    });
  },

  /**
   * A succeeded licence not retired, its successor not running at the vendor (`successorStatus` there):
   * once per expiry, with what to do for that status.
   */
  retireHeld(night: IsoDate, told: Told, successorId: string, successorStatus: string): Alert {
    const { id, expiresOn } = told.licence;
    const todo =
      successorStatus === "suspended"
        ? `resume licence ${successorId} (${api.resume(successorId)}, or in the vendor's panel), and move the server to it`
        : successorStatus === "deleted"
          ? `check licence ${successorId} in the vendor's panel; if it is gone, read it again (${api.refresh(successorId)}) and order another successor for this one: ${api.successor(id, 12)}`
          : `wait: the vendor is still setting licence ${successorId} up (${successorStatus}); if that lasts past tomorrow, check it in the vendor's panel`;
    const lapsed = expiresOn !== undefined && expiresOn < night;
    return licenceAlert(night, told, {
      kind: "retire_held",
      severity: "warning",
      threshold: expiresOn ?? night,
      heading: `Not retired, its successor does not run: ${label(told.licence)}`,
      what: [
        `It is to be deleted at the vendor once its successor, licence ${successorId}, runs there, but that licence is ${successorStatus} at the vendor: the desk does not delete this one meanwhile.`,
      ],
      next: `the watcher tries again each night and deletes this one once licence ${successorId} runs.${lapsed ? ` This one stopped working after ${expiresOn}; the vendor deletes it around ${addDays(expiresOn, 30)} in any case.` : ""}`,
      todo,
    });
  },

  /**
   * A planned successor the watcher ordered tonight (once per licence: the ledger keys it by licence),
   * with what staff need to move the server: the new licence's id and key.
   */
  successorOrdered(night: IsoDate, told: Told, successor: LicenceRecord, orderKey: string): Alert {
    const { licence } = told;
    const retire =
      licence.retireOld === "now"
        ? licence.status === "deleted"
          ? "This one was deleted at the vendor right after, as planned."
          : "This one is deleted at the vendor once the new licence runs there (tonight, or a night to come)."
        : licence.retireOld === "never"
          ? "This one is left as it is: it is not renewed again while the new one runs, and not deleted by the desk."
          : `This one runs on to its expiry (${licence.expiresOn ?? "not known yet"}), is never renewed again, and is deleted at the vendor the first night after it, once the new licence runs.`;
    return licenceAlert(night, told, {
      kind: "successor_ordered",
      severity: "info",
      threshold: "successor_ordered",
      heading: `Successor ordered: ${label(licence)} -> licence ${successor.id}`,
      what: [
        [
          `The watcher ordered its planned successor tonight, on the same IP and under the same name:`,
          `New licence: ${successor.id} (${successor.product ?? `pricelist ${successor.pricelist}`}), ${successor.status}, runs to ${successor.expiresOn ?? "a date the vendor has not reported yet"}`,
          `Key:         ${successor.key ? successor.key : `not issued yet: read it again from the vendor in a while (${api.refresh(successor.id)})`}`,
          `Ordered with Idempotency-Key ${orderKey} (client "watcher").`,
        ].join("\n"),
        retire,
      ],
      next: "nothing more is ordered for this licence: a plan is carried out once.",
      todo: `install the new key on the server (${licence.ip}) and move it to licence ${successor.id} before ${licence.expiresOn ?? "this one stops working"}.`,
    });
  },

  /**
   * A planned successor not ordered tonight (the vendor or the desk refused it): nothing charged, tried
   * again each night; one mail per night it fails.
   */
  successorFailed(night: IsoDate, told: Told, product: string, period: number, reason: string): Alert {
    const stops = told.licence.expiresOn;
    return licenceAlert(night, told, {
      kind: "successor_failed",
      severity: stops !== undefined && daysBetween(night, stops) <= 7 ? "critical" : "warning",
      threshold: `successor_failed:${night}`,
      heading: `Planned successor not ordered: ${label(told.licence)}`,
      what: [
        `The watcher could not order its planned successor (${product}) tonight: ${reason}. Nothing was charged.`,
      ],
      next: "the watcher tries again each night until it is ordered.",
      todo: /balance/i.test(reason)
        ? `top up the vendor account; or order it now by hand: ${api.successor(told.licence.id, period)}.`
        : `check the reason above; order it by hand (${api.successor(told.licence.id, period)}), or drop the plan (${api.dropPlan(told.licence.id)}).`,
    });
  },

  /** Renewed tonight after its renewal failed on an earlier night: once per failure. */
  renewalRecovered(
    night: IsoDate,
    told: Told,
    renewal: { from: IsoDate | undefined; to: IsoDate | undefined; period: number },
    failure: { night: IsoDate; reason: string },
  ): Alert {
    return licenceAlert(night, told, {
      kind: "renewal_recovered",
      severity: "info",
      threshold: `recovered:${failure.night}`,
      heading: `Renewed after all: ${label(told.licence)}`,
      what: [
        `The watcher renewed it tonight: ${renewalWords(
          {
            to: renewal.to,
            capped:
              renewal.to !== undefined &&
              renewal.from !== undefined &&
              renewal.to < addMonths(renewal.from, renewal.period),
            period: renewal.period,
            costMinor: told.product
              ? renewalCost(told.product, renewal.period as RenewPeriod, told.licence.nodes)
              : undefined,
          },
          told.product?.title ?? "its product",
          told.currency,
        )}. Its renewal had failed on ${failure.night}: ${failure.reason.replace(/\.$/, "")}.`,
      ],
      next: "nothing more: the failure told on that night is resolved.",
      todo: "nothing.",
    });
  },

  /**
   * A licence still down a week (and each further week) after it went down, suspended by the vendor or
   * lapsed: what it is, what to do and when the vendor deletes it. Once per `week` (a number of weeks
   * down, or the weekly summary's night), and once more when the vendor deletes it within a week. A
   * warning rides in the night's summary when one goes out with it.
   */
  stillDown(night: IsoDate, told: Told, since: IsoDate, week: string): Alert {
    const { licence } = told;
    const days = daysBetween(since, night);
    const expiresOn = licence.expiresOn;
    const lapsed = expiresOn !== undefined && expiresOn < night;
    const deletedAround = lapsed && expiresOn ? addDays(expiresOn, 30) : undefined;
    const state = licenceState(licence, night) ?? licence.status;
    const deleting = deletedAround !== undefined && daysBetween(night, deletedAround) <= 7;
    const ends = deletedAround
      ? `The vendor deletes a lapsed licence about 30 days after its expiry: around ${deletedAround}${deletedAround >= night ? ` (${fromNight(night, deletedAround).replace(/ \(.*\)$/, "")})` : ""}.`
      : `The vendor keeps it suspended; it stops working for good after its expiry (${expiresOn ?? "not known yet"}).`;
    const alert = licenceAlert(night, told, {
      kind: "still_down",
      severity: deleting ? "critical" : "warning",
      threshold: deleting ? `down:${since}:deleting` : `down:${since}:${week}`,
      heading: `Still down after ${count(days, "day")}: ${label(licence)}`,
      what: [
        `It has been down for ${count(days, "day")} (${state}): the server's ISPmanager does not work.`,
        ends,
      ],
      next: deleting
        ? "the vendor deletes it within the week; nothing can bring it back after that."
        : "this reminder comes again each week while it stays down.",
      todo: lapsed
        ? told.fate.kind === "ends"
          ? `nothing can extend it: move the server to another licence${told.successor ? ` (${told.successor.product.title}: ${api.successor(licence.id, 12)})` : ""}, or delete this one (${api.remove(licence.id)}) if the server is gone.`
          : `renew it if the server still needs it (${api.renew(licence.id, licence.period === 12 ? 12 : 1)}), or delete it (${api.remove(licence.id)}) if not.`
        : `check in the vendor's panel why it is suspended; resume it if the server should run (${api.resume(licence.id)}), or delete it (${api.remove(licence.id)}) if not.`,
    });
    return deleting ? alert : { ...alert, foldable: true, note: `${state}. ${ends}` };
  },

  vendorDeleted(night: IsoDate, told: Told, gone: boolean): Alert {
    const { expiresOn } = told.licence;
    return licenceAlert(night, told, {
      kind: "vendor_deleted",
      // Deleted while it ran: the server stopped now. Deleted after it lapsed: the course it was told
      // to take, down for weeks already.
      severity: expiresOn !== undefined && expiresOn < night ? "warning" : "critical",
      threshold: night,
      heading: `${gone ? "Gone from the vendor" : "Deleted by the vendor"}: ${label(told.licence)}`,
      what: [
        gone
          ? "The licence no longer appears in the vendor's list. The desk keeps its record, marked as gone."
          : "The vendor's list shows this licence deleted. The desk keeps its record, marked deleted.",
      ],
      next: "nothing: a deleted licence cannot be renewed or resumed.",
    });
  },

  syncFailed(night: IsoDate, told: Told, reason: string): Alert {
    return licenceAlert(night, told, {
      kind: "sync_failed",
      severity: "warning",
      threshold: night,
      heading: `Could not read ${label(told.licence)} from the vendor`,
      what: [`Reason: ${reason}`],
      next: "the next night reads it again; the register keeps what it knew.",
      todo: `nothing, unless it keeps failing; then read it by hand: ${api.refresh(told.licence.id)}`,
    });
  },

  lifecycle(
    night: IsoDate,
    product: Product,
    event: {
      name: string;
      date: IsoDate;
      meaning: string;
      todo: string;
      /** Whether staff must act for this licence by the date; none: the mail is for information. */
      needs?: (told: Told) => boolean;
      /** What to do when no licence needs anything. */
      settled?: string;
    },
    threshold: number,
    told: Told[],
  ): Alert {
    // Critical only when something must be done within a week, and staff can do it.
    const acting = told.filter((t) => event.needs?.(t) ?? false).length;
    const severity: Severity =
      acting === 0 ? "info" : daysBetween(night, event.date) <= 7 ? "critical" : "warning";
    // A licence that is down is never left at "nothing": its own reminder says what to do.
    const down = told.filter((t) => downSince(t.licence, night) !== undefined).map((t) => t.licence.name);
    const downWords =
      down.length === 0
        ? ""
        : ` Down now: ${down.slice(0, LIST_MAX).join(", ")}${down.length > LIST_MAX ? ` and ${count(down.length - LIST_MAX, "more")}` : ""}; check each in the vendor's panel, then resume, renew, move or delete it (the weekly summary lists each with how).`;
    const todo = `${acting === 0 && event.settled ? event.settled : event.todo}${downWords}`;
    const { words: todoWords, calls: todoCalls } = splitCalls(todo);
    const listed = told
      .slice(0, LIST_MAX)
      .map(
        (t) =>
          `  ${t.licence.name} (id ${t.licence.id}, ${t.licence.ip}${licenceState(t.licence, night) ? `, ${licenceState(t.licence, night)}` : ""}): ${fateLine(t.fate, night, product, t.currency)}${t.planned ? `; ${plannedWords(t.planned, night)}` : ""}`,
      );
    const more =
      told.length > listed.length
        ? [`  … and ${count(told.length - listed.length, "more licence", "more licences")}: ${LIST_ALL}`]
        : [];
    return {
      kind: "lifecycle",
      severity,
      title: title(`[licence desk] ${product.title}: ${event.name} ${fromNight(night, event.date)}`),
      body: [
        `${product.title}: ${event.name} on ${event.date}.`,
        event.meaning,
        "",
        `Your licences of this product (${told.length}), and what becomes of each:`,
        ...listed,
        ...more,
        "",
        `What to do: ${todoWords.charAt(0).toUpperCase()}${todoWords.slice(1)}`,
        ...(todoCalls.length > 0 ? ["", ...howLines(todoCalls)] : []),
        "",
      ].join("\n"),
      licenceId: undefined,
      night,
      ledger: { subject: `product:${product.id}`, threshold: `${event.name}:${event.date}:${threshold}` },
    };
  },

  /**
   * Once per shortfall, and once more when its first payment comes within 7 days: a warning while
   * there is time to top up, critical when a renewal or order is about to fail for it.
   */
  lowBalance(night: IsoDate, forecast: ShortForecast): Alert {
    const money = (minor: number) => formatMoney({ minor, currency: forecast.currency });
    const first = forecast.due[0] as DueRenewal;
    const severity: Severity = daysBetween(night, first.night) <= 7 ? "critical" : "warning";
    return {
      kind: "low_balance",
      severity,
      title: title(
        `[licence desk] Balance short by ${money(forecast.shortfallMinor)} for ${dueKinds(forecast.due)} due ${fromNight(night, first.night)}`,
      ),
      body: [
        `After tonight's charges the vendor account holds ${money(forecast.balanceMinor)} (the vendor reads "${forecast.balanceText}").`,
        `The ${dueWords(forecast.due)} the watcher will make from tomorrow through ${forecast.until} cost ${money(forecast.dueMinor)} at catalogue prices: ${money(forecast.shortfallMinor)} more than the balance.`,
        "",
        `${dueKinds(forecast.due).replace(/^./, (c) => c.toUpperCase())} due, in date order:`,
        ...forecast.due.map(
          (d) =>
            `  ${d.night} (${fromNight(night, d.night).replace(/ \(.*\)$/, "")})  ${d.name} (id ${d.licenceId}): ${d.successor ? `its planned successor, ${d.successor}, ` : ""}${d.to ? `${renewalWords({ to: d.to, capped: d.capped ?? false, period: d.period, costMinor: d.costMinor, usual: d.usual }, d.product ?? "its product", forecast.currency)}` : `${months(d.period)}, ${money(d.costMinor)}`}`,
        ),
        "",
        `What happens next: ${forecast.due.some((d) => d.successor === undefined) ? "renewals the balance cannot pay fail, and those licences expire" : ""}${forecast.due.every((d) => d.successor === undefined) ? "" : `${forecast.due.some((d) => d.successor === undefined) ? "; " : ""}successor orders it cannot pay are refused, and tried again each night until paid for`}. This mail is sent again only if the shortfall changes${severity === "warning" ? ", or a week before the first of these falls due" : ""}.`,
        `What to do: top up the vendor account by at least ${money(forecast.shortfallMinor)} ${first.night > night ? `before ${first.night}` : `now: they are due from ${first.night}`}; that pays for everything listed above.`,
        "",
      ].join("\n"),
      licenceId: undefined,
      night,
      ledger: {
        subject: "account",
        // Once per shortfall: a night that only moves the first due date along says nothing new.
        threshold: `short:${forecast.currency}:${forecast.shortfallMinor}${severity === "critical" ? ":week" : ""}`,
      },
    };
  },

  /** The balance covers what is due again, the night after a forecast fell short: once per night it turns. */
  balanceCovered(
    night: IsoDate,
    forecast: {
      currency: string;
      balanceMinor: number | undefined;
      dueMinor: number;
      due: DueRenewal[];
      until: IsoDate;
    },
  ): Alert {
    const money = (minor: number) => formatMoney({ minor, currency: forecast.currency });
    const held = forecast.balanceMinor;
    return {
      kind: "balance_covered",
      severity: "info",
      title: title(
        held === undefined || forecast.due.length === 0
          ? `[licence desk] No shortfall any more: nothing is due through ${forecast.until}`
          : `[licence desk] Balance covers what is due again: ${money(held)}`,
      ),
      body: [
        held === undefined || forecast.due.length === 0
          ? `Nothing is due from tomorrow through ${forecast.until}: the shortfall reported before no longer applies.`
          : `After tonight's charges the vendor account holds ${money(held)}: enough for the ${dueWords(forecast.due)} due from tomorrow through ${forecast.until} (${money(forecast.dueMinor)} at catalogue prices). The shortfall reported before is covered.`,
        "",
        "What happens next: the watcher renews and orders as planned; a renewal that failed for money is tried again on its next night.",
        "What to do: nothing.",
        "",
      ].join("\n"),
      licenceId: undefined,
      night,
      ledger: { subject: "account", threshold: `covered:${night}` },
    };
  },

  vendorUnreachable(night: IsoDate, reason: string): Alert {
    return {
      kind: "vendor_unreachable",
      severity: "critical",
      title: title(`[licence desk] Nightly run ${night} could not reach the vendor`),
      body: `The vendor's licence list could not be read: ${reason}\n\nWhat happens next: nothing was synced or renewed tonight. The schedule retries the run; renewals due tonight are made by the retry or the next night, while the licences can still be renewed.\n\nWhat to do: if this repeats, check the vendor endpoint and the credentials in SSM.\n`,
      licenceId: undefined,
      night,
      ledger: { subject: "watcher", threshold: `unreachable:${night}` },
    };
  },
};

/** Who refused a renewal: the vendor, the desk before sending, or the evidence after an unknown outcome. */
export type RefusedHow = "vendor" | "desk" | "not_applied";

/** The reason as a sentence of its own (vendor and desk messages may or may not end with a stop). */
const asSentence = (text: string) => (/[.!?]$/.test(text) ? text : `${text}.`);

/** The verdict first, then the reason in its own words: a reason that says "nothing was sent" repeats no verdict. */
const REFUSED: Record<RefusedHow, (reason: string) => string> = {
  vendor: (reason) =>
    `The vendor refused tonight's renewal, so nothing was charged. Its reason: ${asSentence(reason)}`,
  desk: (reason) =>
    `The desk did not send tonight's renewal, so nothing was charged. Why: ${asSentence(reason)}`,
  not_applied: (reason) =>
    `Tonight's renewal got no answer, and the vendor's records show it was not applied, so nothing was charged. ${asSentence(reason)}`,
};

/** Licences listed by name in one mail; the rest are counted, with the call that lists them. */
export const LIST_MAX = 25;
export const LIST_ALL = "GET /licenses lists every licence with its expiry (filters: status, expiresBefore)";

/** "renewals", "successor orders", "renewals and successor orders". */
function dueKinds(due: DueRenewal[]): string {
  const orders = due.some((d) => d.successor !== undefined);
  const renewals = due.some((d) => d.successor === undefined);
  return orders && renewals ? "renewals and successor orders" : orders ? "successor orders" : "renewals";
}

/** "3 renewals", "2 renewals and 1 successor order". */
function dueWords(due: DueRenewal[]): string {
  const orders = due.filter((d) => d.successor !== undefined).length;
  const renewals = due.length - orders;
  if (orders === 0) return count(renewals, "renewal");
  if (renewals === 0) return count(orders, "successor order");
  return `${count(renewals, "renewal")} and ${count(orders, "successor order")}`;
}

export interface DueRenewal {
  night: IsoDate;
  licenceId: string;
  name: string;
  period: number;
  costMinor: number;
  /** A planned successor's order (its product's title), not a renewal of the licence. */
  successor?: string;
  /** The period the licence is set to renew for, and its product's renewals close: a longer one is explained. */
  usual?: { period: number | null; closeOn: IsoDate | undefined };
  /** A renewal's end, where known (a successor's order has none here), and whether the product cuts it short. */
  to?: IsoDate;
  capped?: boolean;
  /** The renewed product's title, to name the cap. */
  product?: string;
}

/** A forecast whose renewals the balance does not cover; every amount in `currency`. */
export interface ShortForecast {
  currency: string;
  balanceMinor: number;
  balanceText: string;
  dueMinor: number;
  shortfallMinor: number;
  days: number;
  /** The last night the forecast covers. */
  until: IsoDate;
  due: DueRenewal[];
}

const SEVERITY_ORDER: Severity[] = ["info", "warning", "critical"];
/** Licences listed in one digest; its covers hold them all, so each one's ledger entry is marked sent. */
const DIGEST_LIST_MAX = 200;

/**
 * Many alerts in one e-mail, each licence's heading and what to do about it: of one kind (a digest), or
 * of one group (one product's news of one date), headed by the group's subject and lead.
 */
export function digest(group: Alert[]): Alert {
  const first = group[0] as Alert;
  const severity =
    SEVERITY_ORDER[Math.max(...group.map((a) => SEVERITY_ORDER.indexOf(a.severity)))] ?? "warning";
  const listed = group.slice(0, DIGEST_LIST_MAX).flatMap((a) => {
    const { words, calls } = splitCalls(a.action ?? "");
    return [
      `- ${a.licenceId ? `id ${a.licenceId}: ` : ""}${a.title.replace("[licence desk] ", "")}`,
      ...(a.action ? [`  What to do: ${words}`, ...howLines(calls, "  ")] : []),
    ];
  });
  const more =
    group.length > DIGEST_LIST_MAX
      ? [`… and ${count(group.length - DIGEST_LIST_MAX, "more licence", "more licences")}: ${LIST_ALL}`]
      : [];
  const of = first.group;
  return {
    kind: first.kind,
    severity,
    title: title(
      of
        ? `[licence desk] ${of.subject}: ${count(group.length, "licence")} ${KIND_NAMES[first.kind]}`
        : `[licence desk] ${count(group.length, "licence")}: ${KIND_NAMES[first.kind]}`,
    ),
    body: [
      of ? of.lead : `${count(group.length, "licence")} tonight (${first.night}): ${KIND_NAMES[first.kind]}.`,
      "",
      ...listed,
      ...more,
      "",
    ].join("\n"),
    licenceId: undefined,
    night: first.night,
    ledger: of
      ? { subject: "group", threshold: of.key }
      : { subject: "digest", threshold: `${first.kind}:${first.night}` },
    covers: group.map((a) => `${a.ledger.subject}|${a.kind}|${a.ledger.threshold}`),
  };
}
