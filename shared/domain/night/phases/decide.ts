import { redact } from "../../../redact.ts";
import { alerts, type DueRenewal } from "../../alerts/alerts.ts";
import { ordersOpen } from "../../catalogue/catalogue.ts";
import { addDays, addMonths, daysBetween, type IsoDate } from "../../dates.ts";
import { expectedExpiry } from "../../licences/expiry.ts";
import type { Balance } from "../../ports/billing.ts";
import type { LicenceRecord } from "../../ports/licence-store.ts";
import type { NightForecast } from "../../ports/night-ledger.ts";
import {
  decideRenewal,
  isLive,
  type Renewal,
  renewalCost,
  renewalNight,
} from "../../renewal/renewal-rules.ts";
import { successorPlanFor } from "../../renewal/successor-plan.ts";
import type { NightRun } from "./run.ts";

export interface Planned {
  licence: LicenceRecord;
  renewal: Renewal;
}

/**
 * What to renew tonight, from the synced register (each is decided again from a fresh read right
 * before it is renewed).
 */
export function decidePhase(run: NightRun, records: Map<string, LicenceRecord>): Planned[] {
  const { settings } = run.deps;
  const planned: Planned[] = [];
  for (const licence of [...records.values()].filter(isLive)) {
    const decision = decideRenewal(licence, run.productOf(licence), run.night, settings);
    if (decision.action === "renew") planned.push({ licence, renewal: decision.renewal });
  }
  return planned;
}

/**
 * Whether the balance covers what is due from tomorrow, read after tonight's renewals and successor
 * orders were charged: the balance staff read is the one that will pay, and a renewal that failed
 * tonight counts again on the night it is tried next.
 */
export async function forecastPhase(run: NightRun, records: Map<string, LicenceRecord>): Promise<void> {
  await forecastBalance(run, [...records.values()].filter(isLive));
}

/**
 * The last night the forecast covers: `BALANCE_FORECAST_DAYS` from tomorrow, or the eve of the next
 * renewals-close date of a product in the fleet, whichever is later, so a top-up asked before a close
 * pays for every renewal the watcher makes before it (the early ones included).
 */
export function forecastUntil(run: NightRun, live: LicenceRecord[]): IsoDate {
  const days = addDays(run.night, run.deps.settings.balanceForecastDays);
  const closes = live
    .map((licence) => run.productOf(licence)?.lifecycle.renewalsCloseOn)
    .filter((close): close is IsoDate => close !== undefined && close > run.night)
    .sort();
  const eve = closes[0] === undefined ? undefined : addDays(closes[0], -1);
  return eve !== undefined && eve > days ? eve : days;
}

/**
 * The renewals the watcher will make from tomorrow to `until`, each licence's every renewal in that time
 * (a monthly one renewed twice is paid twice), in date order, at catalogue prices.
 */
function dueRenewals(run: NightRun, live: LicenceRecord[], until: IsoDate): DueRenewal[] {
  const { settings } = run.deps;
  const due: DueRenewal[] = [];
  for (const licence of live) {
    const product = run.productOf(licence);
    if (!product) continue;
    let record = licence;
    let from = addDays(run.night, 1);
    // A licence renews at most monthly: a year's horizon holds at most a dozen renewals of it.
    for (let i = 0; i < 24 && from <= until && record.expiresOn !== undefined; i++) {
      const next = renewalNight(record, product, from, settings, daysBetween(from, until) + 1);
      if (!next) break;
      const to = expectedExpiry(product, record.expiresOn, next.renewal.period, next.night);
      due.push({
        night: next.night,
        licenceId: licence.id,
        name: licence.name,
        period: next.renewal.period,
        costMinor: renewalCost(product, next.renewal.period, licence.nodes),
        to,
        capped: to < addMonths(record.expiresOn, next.renewal.period),
        product: product.title,
        usual: { period: licence.autoRenew, closeOn: product.lifecycle.renewalsCloseOn },
      });
      // The next one is decided from the expiry this one leads to.
      record = { ...record, expiresOn: to };
      from = addDays(next.night, 1);
    }
  }
  due.push(...dueSuccessors(run, live, until));
  return due.sort((a, b) => a.night.localeCompare(b.night) || a.name.localeCompare(b.name));
}

/** Planned successors the watcher orders from tomorrow to `until`, at catalogue prices. */
function dueSuccessors(run: NightRun, live: LicenceRecord[], until: IsoDate): DueRenewal[] {
  const { settings, catalogue } = run.deps;
  const due: DueRenewal[] = [];
  for (const licence of live) {
    const plan = successorPlanFor(licence, catalogue, run.night, settings);
    if (!plan || plan.on > until || !ordersOpen(plan.product, run.night)) continue;
    const { product } = plan;
    const tomorrow = addDays(run.night, 1);
    due.push({
      // One still planned after tonight's orders (missed, or refused tonight) is tried tomorrow.
      // biome-ignore lint/complexity/useMathMinMax: ISO dates are strings, compared as text
      night: plan.on < tomorrow ? tomorrow : plan.on,
      licenceId: licence.id,
      name: licence.name,
      period: plan.plan.period,
      costMinor: renewalCost(product, plan.plan.period, product.nodes ? licence.nodes : undefined),
      successor: product.title,
    });
  }
  return due;
}

/**
 * The balance against the renewals due, in the catalogue's currency. The night's forecast is kept in
 * the register (the summary tells it, made or not, and why); a shortfall is alerted, once per amount
 * and first renewal night, so the same forecast is not mailed every night.
 */
async function forecastBalance(run: NightRun, live: LicenceRecord[]): Promise<void> {
  const { billing, catalogue, register } = run.deps;
  const until = forecastUntil(run, live);
  const due = dueRenewals(run, live, until);
  const dueMinor = due.reduce((sum, d) => sum + d.costMinor, 0);
  const base = {
    from: addDays(run.night, 1),
    days: daysBetween(run.night, until),
    until,
    currency: catalogue.currency,
    dueMinor,
    dueCount: due.length,
    successorOrders: due.filter((d) => d.successor !== undefined).length,
    firstDue: due[0]?.night,
  };
  const unavailable = (reason: string): NightForecast => ({
    ...base,
    status: "unavailable",
    balanceMinor: undefined,
    balanceText: undefined,
    reason,
  });

  let forecast: NightForecast;
  if (due.length === 0) {
    forecast = {
      ...base,
      status: "nothing_due",
      balanceMinor: undefined,
      balanceText: undefined,
      reason: undefined,
    };
  } else {
    let balance: Balance | undefined;
    let readError: string | undefined;
    try {
      balance = await billing.balance();
    } catch (error) {
      readError = redact(error instanceof Error ? error.message : String(error));
    }
    if (readError !== undefined)
      forecast = unavailable(`the vendor's balance could not be read (${readError})`);
    else if (balance === undefined)
      forecast = unavailable("the vendor reports no readable balance on this account");
    else if (balance.currency !== undefined && balance.currency !== catalogue.currency)
      forecast = unavailable(
        `the balance is in ${balance.currency} ("${balance.text}") and catalogue prices in ${catalogue.currency}; set the catalogue's currency and prices to the account's`,
      );
    else {
      forecast = {
        ...base,
        status: balance.minor < dueMinor ? "short" : "covered",
        balanceMinor: balance.minor,
        balanceText: balance.text,
        reason:
          balance.currency === undefined
            ? `the vendor names no currency; the balance is taken to be in ${catalogue.currency}`
            : undefined,
      };
    }
  }
  await register.nights.setForecast(run.night, forecast);
  run.report.forecast = forecast;
  if (forecast.status === "covered" || forecast.status === "nothing_due") {
    // Covered again after a short night: staff who topped up (or were told to) hear it is done.
    const before = (await register.nights.read(addDays(run.night, -1)).catch(() => undefined))?.forecast;
    if (before?.status === "short")
      await run.raise([
        alerts.balanceCovered(run.night, {
          currency: catalogue.currency,
          balanceMinor: forecast.balanceMinor,
          dueMinor,
          due,
          until,
        }),
      ]);
  }
  if (forecast.status === "short" && forecast.balanceMinor !== undefined) {
    const mail = alerts.lowBalance(run.night, {
      currency: catalogue.currency,
      balanceMinor: forecast.balanceMinor,
      balanceText: forecast.balanceText ?? "",
      dueMinor,
      shortfallMinor: dueMinor - forecast.balanceMinor,
      days: base.days,
      until,
      due,
    });
    // A shortfall told as due within a week is not told again as a warning when its first payment moves
    // further off: the same amount, said once more with less urgency, says nothing new.
    const toldUrgent =
      mail.severity === "warning" &&
      (
        await register.alerts.recorded([
          { subject: mail.ledger.subject, kind: mail.kind, threshold: `${mail.ledger.threshold}:week` },
        ])
      ).size > 0;
    if (!toldUrgent) await run.raise([mail]);
  }
}
