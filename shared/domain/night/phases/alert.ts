import type { Told } from "../../alerts/alerts.ts";
import { type Alert, alerts } from "../../alerts/alerts.ts";
import { ledgerText, pendingOf } from "../../alerts/send-pending.ts";
import type { Product } from "../../catalogue/catalogue.ts";
import { addDays, daysBetween, type IsoDate } from "../../dates.ts";
import { type AlertKey, alertKeyText } from "../../ports/alert-ledger.ts";
import type { LicenceRecord } from "../../ports/licence-store.ts";
import { downSince, type SuccessorProduct } from "../../renewal/fate.ts";
import { decideRenewal, isLive, nearestThreshold } from "../../renewal/renewal-rules.ts";
import { api } from "../../wording.ts";
import { toldOnArrival } from "./arrival-expiry.ts";
import { type NightRun, successorOf } from "./run.ts";
import { isWeeklyNight, summaryLedger } from "./summary-mail.ts";

interface LifecycleEvent {
  name: string;
  date: IsoDate;
  meaning: string;
  todo: string;
  /** Whether the event changes anything for this licence. */
  concerns: (licence: LicenceRecord) => boolean;
  /** Whether staff must act for this licence by the date (none: the mail is for information). */
  needs?: (told: Told) => boolean;
  /** What to do when no licence needs anything. */
  settled?: string;
}

/** Carried on: a successor runs or is planned for it. */
const movedOn = (t: Told) => t.fate.kind === "succeeded" || t.planned !== undefined;
/** Will stop unless renewed by hand before renewals close: not renewed automatically, not moved on. */
const needsRenewalByHand = (t: Told) =>
  t.fate.kind !== "automatic" && !movedOn(t) && t.licence.status !== "suspended";

/**
 * A product's lifecycle dates, each with what it means in the vendor's own terms. Licences bought
 * before the cap (`capFrom`) run to their own expiry with LTS support, so a licence may rightly run
 * past the last valid day; the texts say so rather than claim none does.
 */
function lifecycleEvents(product: Product, successor: SuccessorProduct | undefined): LifecycleEvent[] {
  const { salesCloseOn, renewalsCloseOn, lastValidDay, supportEndsOn, capFrom } = product.lifecycle;
  // The way forward, named: the catalogue's successor (each licence moved by its own call), if any.
  const next = successor
    ? `${successor.product.title}${successor.price ? ` (${successor.price})` : ""}`
    : "a product that is still sold";
  const how = successor
    ? ` (each licence above with neither a successor nor one planned: order one now, or plan one for the watcher to order${api.successorOfAny()}${api.planOfAny()})`
    : "";
  const lts = capFrom
    ? ` Licences bought before ${capFrom} run to their own expiry, with LTS support until then.`
    : "";
  const events: LifecycleEvent[] = [];
  if (capFrom && lastValidDay)
    events.push({
      name: "renewals capped",
      date: capFrom,
      meaning: `From that day an order or a renewal of ${product.title} runs to ${lastValidDay} at the latest, whatever period is paid for (12 months bought on ${capFrom} end on ${lastValidDay}). Licences bought before that day are LTS (long-term support): they run to their own expiry, even past ${lastValidDay}, with support until then, but cannot be renewed past ${lastValidDay} either.`,
      todo: `nothing for now: the watcher renews as before, and each mail gives a renewal's real end and price. A licence that should run past ${lastValidDay} must be renewed by hand before ${capFrom}, or moved to ${next} in time.`,
      concerns: () => true,
    });
  if (salesCloseOn)
    events.push({
      name: "sales close",
      date: salesCloseOn,
      meaning: `From that day the vendor takes no new orders for ${product.title}.${
        renewalsCloseOn === undefined
          ? " Licences already bought are not affected."
          : renewalsCloseOn === salesCloseOn
            ? " Renewals close the same day: licences already bought run to their expiry and can no longer be renewed."
            : ` Licences already bought run on, and can be renewed until ${addDays(renewalsCloseOn, -1)}.`
      }`,
      todo: `order any new ${product.title} licence you still need by ${addDays(salesCloseOn, -1)} (${api.order(product)}); after that, order ${next} instead.`,
      concerns: () => true,
    });
  if (renewalsCloseOn)
    events.push({
      name: "renewals close",
      date: renewalsCloseOn,
      meaning: `From that day no ${product.title} licence can be renewed: each stops working after its expiry.${lastValidDay && capFrom ? ` Until then a renewal runs to ${lastValidDay} at the latest.` : ""}`,
      todo: `check each licence's line above. Those that renew automatically are renewed before that day; renew by hand by ${addDays(renewalsCloseOn, -1)} any other that should keep running; plan the move to ${next} for all of them${how}.`,
      concerns: () => true,
      needs: needsRenewalByHand,
      settled: `nothing before that day: every licence above is renewed automatically before it, or carried on by its successor. Plan the move to ${next} of those without one${how}.`,
    });
  if (lastValidDay)
    events.push({
      name: "licences end",
      date: lastValidDay,
      meaning: `${product.title} licences bought or renewed${capFrom ? ` from ${capFrom}` : ""} stop working after ${lastValidDay}.${lts}`,
      todo: `move the servers listed above to ${next} before ${lastValidDay}${how}; nothing can extend these licences.`,
      concerns: (l) => l.expiresOn !== undefined && l.expiresOn <= lastValidDay,
      needs: (t) => !movedOn(t) && t.licence.expiresOn !== undefined && t.licence.expiresOn <= lastValidDay,
      settled: "nothing: every licence above is carried on by its successor, ordered or planned.",
    });
  if (supportEndsOn)
    events.push({
      name: "support ends",
      date: supportEndsOn,
      meaning: `From that day the vendor ships no support and no updates for ${product.title}.${capFrom ? ` Licences bought before ${capFrom} keep LTS support until they expire.` : ""} Licences that stop working before that day are not listed here.`,
      todo: `nothing for the licences listed above until they expire; plan their move to ${next} before then${how}.`,
      concerns: (l) => l.expiresOn !== undefined && l.expiresOn >= supportEndsOn,
    });
  // One mail per product and vendor date: sales and renewals closing the same day are one event, and
  // licences ending the day before support ends are told with it, in one mail on the earlier date.
  const merge = (
    first: string,
    second: string,
    event: Omit<LifecycleEvent, "date" | "concerns" | "needs">,
  ) => {
    const a = events.find((e) => e.name === first);
    const b = events.find((e) => e.name === second);
    if (!a || !b) return;
    events.splice(events.indexOf(a), 1, {
      ...event,
      date: a.date,
      concerns: (l) => a.concerns(l) || b.concerns(l),
      needs: (t) => (a.needs?.(t) ?? false) || (b.needs?.(t) ?? false),
    });
    events.splice(events.indexOf(b), 1);
  };
  if (salesCloseOn && renewalsCloseOn && salesCloseOn === renewalsCloseOn)
    merge("renewals close", "sales close", {
      name: "sales and renewals close",
      meaning: `From that day the vendor takes no new orders for ${product.title} and renews none: each licence stops working after its expiry.${lastValidDay && capFrom ? ` Until then a renewal runs to ${lastValidDay} at the latest.` : ""}`,
      todo: `check each licence's line above. Those that renew automatically are renewed before that day; renew by hand by ${addDays(renewalsCloseOn, -1)} any other that should keep running, and order by then any new ${product.title} licence you still need (${api.order(product)}). After that, only ${next} can be ordered: plan the move of every licence above to it${how}.`,
      settled: `nothing before that day: every licence above is renewed automatically before it, or carried on by its successor. Order by ${addDays(renewalsCloseOn, -1)} any new ${product.title} licence you still need (${api.order(product)}); after that, plan the move to ${next} of those without a successor${how}.`,
    });
  if (lastValidDay && supportEndsOn && supportEndsOn === addDays(lastValidDay, 1))
    merge("licences end", "support ends", {
      name: "last day of licences and support",
      meaning: `${product.title} licences bought or renewed${capFrom ? ` from ${capFrom}` : ""} stop working after ${lastValidDay}, and from ${supportEndsOn} the vendor ships no support and no updates for ${product.title}.${capFrom ? ` Licences bought before ${capFrom} (LTS) run to their own expiry, with support until then.` : ""}`,
      todo: `move each server whose licence stops after ${lastValidDay} to ${next} before that day${how}: nothing can extend those licences. Plan the move of any that run on (LTS) before they expire.`,
      settled: `nothing before ${lastValidDay}: every licence above that stops then is carried on by its successor, ordered or planned. Plan the move of any that run on (LTS) before they expire.`,
    });
  return events;
}

/**
 * The alerts tonight's state calls for, after the renewals (a renewed licence is not warned about), each
 * told with the licence's one fate: a suspension not ours seen while it ran, expiry distances and
 * expired (for a licence the watcher will not renew), cannot be renewed (set to renew, and nothing can
 * extend it), will not renew automatically (due, but suspended or not running: never silence), and the
 * products' lifecycle dates.
 */
export async function alertPhase(run: NightRun, records: Map<string, LicenceRecord>): Promise<void> {
  const { night, deps, report } = run;
  const { settings, catalogue } = deps;
  const live = [...records.values()].filter(isLive);
  const due: Alert[] = [];
  // A licence a lifecycle mail of tonight lists for the date it expires on (its product's last day) is
  // told there: no expiry mail of its own the same night about the same end.
  const toldByLifecycle = new Set<string>();
  const lifecycleMails: Array<{ mail: Alert; ending: Told[] }> = [];
  // Expiry warnings told by the summary of the night the licence arrived (`arrival-expiry.ts`).
  const arrived: Array<{ added: IsoDate | undefined; expiry: Alert }> = [];
  for (const product of catalogue.products) {
    const ofProduct = live.filter((l) => l.pricelist === product.pricelist);
    if (ofProduct.length === 0) continue;
    for (const event of lifecycleEvents(product, successorOf(catalogue, product, night))) {
      const threshold = nearestThreshold(event.date, night, settings.lifecycleAlertDays);
      if (threshold === undefined) continue;
      const concerned = ofProduct
        .filter(event.concerns)
        .sort(byExpiry)
        .map((l) => run.tell(l));
      if (concerned.length === 0) continue;
      const mail = alerts.lifecycle(night, product, event, threshold, concerned);
      due.push(mail);
      lifecycleMails.push({ mail, ending: concerned.filter((t) => t.licence.expiresOn === event.date) });
    }
  }
  // Only a lifecycle mail of tonight tells them: new, or recorded by an earlier run of this night (a
  // rerun or a continuation); one an earlier night sent does not.
  if (lifecycleMails.length > 0) {
    const recorded = await deps.register.alerts.recorded(lifecycleMails.map(({ mail }) => pendingOf(mail)));
    const tonight = new Set((await deps.register.nights.read(night)).alerts.map(alertKeyText));
    for (const { mail, ending } of lifecycleMails) {
      const key = ledgerText(mail);
      if (!recorded.has(key) || tonight.has(key)) for (const t of ending) toldByLifecycle.add(t.licence.id);
    }
  }
  for (const licence of live) {
    const expiresOn = licence.expiresOn;
    if (expiresOn === undefined) continue;
    const told = run.tell(licence);
    const { fate } = told;
    // Suspended while it ran, and not by us: told once, whoever wrote the suspension (the sync tells
    // it as it writes it; a renewal's answer, a settlement or a refresh through the API leave the sync
    // no change to tell).
    if (
      licence.status === "suspended" &&
      licence.suspendedOn !== undefined &&
      !licence.suspendedBy &&
      // Read again, as the sync does: a suspend through the API tonight marks the register first.
      (await deps.register.licences.get(licence.id))?.suspendedBy === undefined
    )
      due.push(alerts.vendorSuspended(night, told));
    if (fate.kind === "ends") report.pastCutoff++;
    // Down a week or more (suspended by the vendor, or lapsed): reminded each week, never forgotten; in
    // the weekly summary when there is one (its own mail only once the vendor deletes it within a week).
    const since = downSince(licence, night);
    if (since !== undefined && daysBetween(since, night) >= 7) {
      const weekly = settings.summaryMails !== "changes";
      const week = weekly ? night : String(Math.floor(daysBetween(since, night) / 7));
      const reminder = alerts.stillDown(night, told, since, week);
      if (reminder.severity === "critical" || !weekly || isWeeklyNight(night)) due.push(reminder);
    }
    // Renewed on time, or carried on by its successor: no warning of its expiry to act on.
    if (fate.kind === "automatic" || fate.kind === "succeeded") continue;
    // Once renewals have closed (before then, one renewed to the cap is told by the summary and the
    // lifecycle mails, without a mail of its own each).
    if (
      licence.autoRenew !== null &&
      fate.kind === "ends" &&
      fate.why === "renewals_closed" &&
      expiresOn >= night
    ) {
      due.push(alerts.cannotRenew(night, { ...told, fate }));
    }
    const tonight = decideRenewal(licence, told.product, night, settings);
    if (tonight.action === "blocked" && fate.kind === "blocked") {
      report.blocked.push({ id: licence.id, name: licence.name, why: tonight.why });
      due.push(alerts.renewalBlocked(night, { ...told, fate }, tonight.lapsed));
      continue;
    }
    if (expiresOn < night) {
      due.push(alerts.expired(night, told));
      continue;
    }
    const threshold = nearestThreshold(expiresOn, night, settings.expiryAlertDays);
    if (threshold === undefined || toldByLifecycle.has(licence.id)) continue;
    const expiry = alerts.expiry(night, told, threshold);
    if (toldOnArrival(licence, threshold, settings, night))
      arrived.push({ added: licence.syncAddedOn, expiry });
    else due.push(expiry);
  }
  due.push(...(await notToldOnArrival(run, arrived)));
  await run.raise(due);

  const horizon = addDays(night, settings.expiringSoonDays);
  report.expiringSoon = live
    .filter((l) => l.expiresOn !== undefined && l.expiresOn >= night && l.expiresOn <= horizon)
    .sort(byExpiry);
}

/**
 * The expiry warnings of licences that arrived on an earlier night whose summary was never recorded (a
 * night that did not get that far, and was not run again): nothing told them, so they are raised now.
 * Those that arrived tonight are told by tonight's summary, recorded after the alerts.
 */
async function notToldOnArrival(
  run: NightRun,
  arrived: ReadonlyArray<{ added: IsoDate | undefined; expiry: Alert }>,
): Promise<Alert[]> {
  const earlier = [
    ...new Set(arrived.map((a) => a.added).filter((n): n is IsoDate => n !== undefined && n < run.night)),
  ];
  if (earlier.length === 0) return [];
  const summaries = earlier.map((n) => ({ kind: "summary", ...summaryLedger(n) }));
  const recorded = await run.deps.register.alerts.recorded(summaries);
  const told = new Set(earlier.filter((_, i) => recorded.has(alertKeyText(summaries[i] as AlertKey))));
  return arrived
    .filter((a) => a.added !== undefined && a.added < run.night && !told.has(a.added))
    .map((a) => a.expiry);
}

const byExpiry = (a: LicenceRecord, b: LicenceRecord) =>
  (a.expiresOn ?? "").localeCompare(b.expiresOn ?? "") || a.name.localeCompare(b.name);
