import { renewalsOpen } from "../../catalogue/index.ts";
import { addDays, type IsoDate } from "../../dates.ts";
import type { LicenceRecord } from "../../register/types.ts";
import { type Alert, alerts } from "../alerts.ts";
import { decideRenewal, isLive, nearestThreshold } from "../plan.ts";
import type { NightRun } from "./run.ts";

const LIFECYCLE_EVENTS = [
  {
    field: "salesCloseOn",
    name: "sales close",
    meaning: "From that day the vendor takes no new orders for this product.",
    concerns: () => true,
  },
  {
    field: "renewalsCloseOn",
    name: "renewals close",
    meaning: "From that day licences of this product can no longer be renewed: each ends at its expiry.",
    concerns: () => true,
  },
  {
    field: "lastValidDay",
    name: "licences end for good",
    meaning: "No licence of this product runs past that day.",
    concerns: (l: LicenceRecord, date: IsoDate) => l.expiresOn === undefined || l.expiresOn <= date,
  },
  {
    field: "supportEndsOn",
    name: "support ends",
    meaning: "From that day the vendor ships no support and no updates for this product.",
    concerns: () => true,
  },
] as const;

/**
 * The alerts tonight's state calls for, after the renewals (a renewed licence is not warned about):
 * expiry distances, expired, cannot be renewed (renewals closed), cannot be renewed automatically (set
 * to renew, due, but suspended or not running: never silence), and the products' lifecycle dates.
 */
export async function alertPhase(run: NightRun, records: Map<string, LicenceRecord>): Promise<void> {
  const { night, deps, report } = run;
  const { settings, catalogue } = deps;
  const live = [...records.values()].filter(isLive);
  const due: Alert[] = [];
  for (const licence of live) {
    const product = run.productOf(licence);
    const expiresOn = licence.expiresOn;
    if (expiresOn === undefined) continue;
    const closed = product !== undefined && !renewalsOpen(product, night);
    if (licence.autoRenew !== null && closed && expiresOn >= night) {
      due.push(
        alerts.cannotRenew(night, licence, product, product?.lifecycle.renewalsCloseOn ?? "", expiresOn),
      );
    }
    const decision = decideRenewal(licence, product, night, settings);
    if (decision.action === "blocked") {
      report.blocked.push({ id: licence.id, name: licence.name, why: decision.why });
      due.push(alerts.renewalBlocked(night, licence, product, decision.why, decision.lapsed));
    }
    const renewedAutomatically = licence.autoRenew !== null && !closed;
    if (renewedAutomatically) continue;
    if (expiresOn < night) {
      due.push(alerts.expired(night, licence, product));
      continue;
    }
    const days = nearestThreshold(expiresOn, night, settings.expiryAlertDays);
    if (days !== undefined) due.push(alerts.expiry(night, licence, product, days, !closed));
  }
  for (const product of catalogue.products) {
    const ofProduct = live.filter((l) => l.pricelist === product.pricelist);
    if (ofProduct.length === 0) continue;
    for (const event of LIFECYCLE_EVENTS) {
      const date = product.lifecycle[event.field];
      if (date === undefined) continue;
      const days = nearestThreshold(date, night, settings.lifecycleAlertDays);
      if (days === undefined) continue;
      const concerned = ofProduct.filter((l) => event.concerns(l, date));
      if (concerned.length > 0)
        due.push(alerts.lifecycle(night, product, { ...event, date }, days, concerned));
    }
  }
  await run.raise(due);

  const horizon = addDays(night, settings.expiringSoonDays);
  report.expiringSoon = live
    .filter((l) => l.expiresOn !== undefined && l.expiresOn >= night && l.expiresOn <= horizon)
    .sort((a, b) => (a.expiresOn ?? "").localeCompare(b.expiresOn ?? ""));
}
