import type { CallEvent } from "../../shared/adapters/billmgr/transport.ts";
import { addDays, type IsoDate } from "../../shared/domain/dates.ts";
import type { ReconcileReport } from "../../shared/domain/licences/reconciler.ts";
import type { NightReport } from "../../shared/domain/night/night.ts";
import { METRIC, metrics } from "../../shared/metrics.ts";

/**
 * Every vendor attempt, by function and result, and by result alone: an alarm cannot add up series found
 * by a search, so the vendor's error rate needs the series without the function.
 */
export function vendorCallFigures(event: CallEvent): void {
  const figures = metrics();
  figures.timing(METRIC.vendorCall, { func: event.func, result: event.result }, event.durationMs);
  figures.timing(METRIC.vendorCall, { result: event.result }, event.durationMs);
}

/** One reconciler pass (the 15-minute schedule's, or the one before each night). */
export function reconcileFigures(
  report: ReconcileReport & { alertsSent: number; alertsUndelivered: number },
) {
  const figures = metrics();
  figures.level(METRIC.unknownOverdue, {}, report.overdue);
  figures.count(METRIC.alertsSent, {}, report.alertsSent);
  figures.count(METRIC.alertsUndelivered, {}, report.alertsUndelivered);
}

/**
 * One watcher run. Counts are this run's, so a rerun adds only what it did itself; the register's levels
 * are tonight's. The expiring figures come from the report's `expiringSoon`, which reaches only
 * `expiringSoonDays` ahead: a horizon it does not reach is left out rather than under-counted.
 */
export function nightFigures(report: NightReport, expiringSoonDays: number): void {
  const figures = metrics();
  figures.count(METRIC.nightRenewed, {}, report.renewed.length);
  figures.count(METRIC.nightFailed, {}, report.failed.length);
  figures.count(METRIC.alertsSent, {}, report.sent.length);
  figures.count(METRIC.alertsUndelivered, {}, report.undelivered);
  figures.count(METRIC.summariesSent, {}, report.sent.filter((alert) => alert.kind === "summary").length);
  figures.count(METRIC.nightsCompleted, {}, 1);
  const expiringWithin = (days: number) => {
    const last: IsoDate = addDays(report.night, days);
    return report.expiringSoon.filter((l) => l.expiresOn !== undefined && l.expiresOn <= last).length;
  };
  if (expiringSoonDays >= 7) figures.level(METRIC.expiringWithin7Days, {}, expiringWithin(7));
  if (expiringSoonDays >= 30) figures.level(METRIC.expiringWithin30Days, {}, expiringWithin(30));
  figures.level(METRIC.pastVendorCutoff, {}, report.pastCutoff);
  const { forecast } = report;
  // In the catalogue's currency, major units; a forecast that could not be made reports no figure.
  if (forecast?.balanceMinor !== undefined) {
    figures.level(METRIC.balance, {}, forecast.balanceMinor / 100);
    figures.level(METRIC.forecastShortfall, {}, Math.max(0, forecast.dueMinor - forecast.balanceMinor) / 100);
  }
}
