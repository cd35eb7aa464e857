import { redact } from "../../../redact.ts";
import { alerts, type DueRenewal } from "../../alerts/alerts.ts";
import { ordersOpen } from "../../catalogue/catalogue.ts";
import { addDays, daysBetween, type IsoDate } from "../../dates.ts";
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
 * before it is renewed), and whether the balance covers what is due in the coming days.
 */
export async function decidePhase(run: NightRun, records: Map<string, LicenceRecord>): Promise<Planned[]> {
  const { settings } = run.deps;
  const live = [...records.values()].filter(isLive);
  const planned: Planned[] = [];
  for (const licence of live) {
    const decision = decideRenewal(licence, run.productOf(licence), run.night, settings);
    if (decision.action === "renew") planned.push({ licence, renewal: decision.renewal });
  }
  await forecastBalance(run, live);
  return planned;
}

/**
 * The last night the forecast covers: `BALANCE_FORECAST_DAYS` from tonight, or the eve of the next
 * renewals-close date of a product in the fleet, whichever is later, so a top-up asked before a close
 * pays for every renewal the watcher makes before it (the early ones included).
 */
export function forecastUntil(run: NightRun, live: LicenceRecord[]): IsoDate {
  const days = addDays(run.night, run.deps.settings.balanceForecastDays - 1);
  const closes = live
    .map((licence) => run.productOf(licence)?.lifecycle.renewalsCloseOn)
    .filter((close): close is IsoDate => close !== undefined && close > run.night)
    .sort();
  const eve = closes[0] === undefined ? undefined : addDays(closes[0], -1);
  return eve !== undefined && eve > days ? eve : days;
}

/**
 * The renewals the watcher will make from tonight to `until`, each licence's every renewal in that time
 * (a monthly one renewed twice is paid twice), in date order, at catalogue prices.
 */
function dueRenewals(run: NightRun, live: LicenceRecord[], until: IsoDate): DueRenewal[] {
  const { settings } = run.deps;
  const due: DueRenewal[] = [];
  for (const licence of live) {
    const product = run.productOf(licence);
    if (!product) continue;
    let record = licence;
    let from = run.night;
    // A licence renews at most monthly: a year's horizon holds at most a dozen renewals of it.
    for (let i = 0; i < 24 && from <= until && record.expiresOn !== undefined; i++) {
      const next = renewalNight(record, product, from, settings, daysBetween(from, until) + 1);
      if (!next) break;
      due.push({
        night: next.night,
        licenceId: licence.id,
        name: licence.name,
        period: next.renewal.period,
        costMinor: renewalCost(product, next.renewal.period, licence.nodes),
      });
      // The next one is decided from the expiry this one leads to.
      record = {
        ...record,
        expiresOn: expectedExpiry(product, record.expiresOn, next.renewal.period, next.night),
      };
      from = addDays(next.night, 1);
    }
  }
  due.push(...dueSuccessors(run, live, until));
  return due.sort((a, b) => a.night.localeCompare(b.night) || a.name.localeCompare(b.name));
}

/** Planned successors the watcher orders from tonight to `until`, at catalogue prices. */
function dueSuccessors(run: NightRun, live: LicenceRecord[], until: IsoDate): DueRenewal[] {
  const { settings, catalogue } = run.deps;
  const due: DueRenewal[] = [];
  for (const licence of live) {
    const plan = successorPlanFor(licence, catalogue, run.night, settings);
    if (!plan || plan.on > until || !ordersOpen(plan.product, run.night)) continue;
    const { product } = plan;
    due.push({
      // One missed is ordered tonight.
      // biome-ignore lint/complexity/useMathMinMax: ISO dates are strings, compared as text
      night: plan.on < run.night ? run.night : plan.on,
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
    days: daysBetween(run.night, until) + 1,
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
    await run.raise([
      alerts.lowBalance(run.night, {
        currency: catalogue.currency,
        balanceMinor: forecast.balanceMinor,
        balanceText: forecast.balanceText ?? "",
        dueMinor,
        shortfallMinor: dueMinor - forecast.balanceMinor,
        days: base.days,
        until,
        due,
      }),
    ]);
  }
}
