import type { BillingClient } from "../billmgr/client.ts";
import { BillmgrError, BillmgrVendorError } from "../billmgr/errors.ts";
import { type Catalogue, type Product, renewalsOpen } from "../catalogue/index.ts";
import { addDays, type IsoDate } from "../dates.ts";
import { LifecycleClosedError, OutcomeUnknownError, RequestInProgressError } from "../licences/errors.ts";
import type { IdempotencySettings } from "../licences/idempotency.ts";
import { licenceDesk } from "../licences/service.ts";
import { redact } from "../redact.ts";
import type { LicenceRecord, Register } from "../register/types.ts";
import { type Alert, type AlertKind, alerts, digest } from "./alerts.ts";
import { mapLimit } from "./limit.ts";
import type { Notifier } from "./notifier.ts";
import {
  decideRenewal,
  isLive,
  nearestThreshold,
  type PlanSettings,
  type Renewal,
  renewalCost,
  renewalNight,
} from "./plan.ts";
import { syncRegister } from "./sync.ts";

export interface WatcherSettings extends PlanSettings {
  /** From this many alerts of one kind about single licences in a night, they go out as one digest. */
  digestMin: number;
  lifecycleAlertDays: number[];
  balanceForecastDays: number;
  expiringSoonDays: number;
  vendorConcurrency: number;
  registerConcurrency: number;
}

export interface WatcherDeps {
  billing: BillingClient;
  register: Register;
  catalogue: Catalogue;
  notifier: Notifier;
  settings: WatcherSettings;
  idempotency: IdempotencySettings;
}

export interface RenewedLicence {
  id: string;
  name: string;
  from: IsoDate | undefined;
  to: IsoDate | undefined;
  period: number;
  reason: Renewal["reason"];
}

export interface NightReport {
  night: IsoDate;
  sync: { listed: number; added: number; updated: number; gone: number; unchanged: number };
  /** Licence records written by the sync (renewals, audit and alerts write besides). */
  syncWrites: number;
  renewed: RenewedLicence[];
  failed: Array<{ id: string; name: string; reason: string }>;
  unknown: Array<{ id: string; name: string }>;
  /** Renewals another run of the same night was already doing. */
  busy: string[];
  /** What those came to, once the other run finished them (for the summary). */
  renewedElsewhere: RenewedLicence[];
  /** Alerts sent by this run (a rerun sends none it already sent). */
  sent: Alert[];
  /** Alerts due but already in the ledger. */
  alreadySent: number;
  /** Alerts whose sending failed (released, so a rerun tries again). */
  undelivered: number;
  expiringSoon: LicenceRecord[];
}

/** The vendor's list could not be read: nothing was synced or renewed. */
export class VendorUnreachableError extends Error {
  override readonly name = "VendorUnreachableError";
}

/** How long a run waits for renewals another run of the same night is doing: 60 polls, 1 s apart. */
const BUSY_POLLS = 60;
const BUSY_POLL_MS = 1000;

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
 * One night of the watcher, for the night given (the schedule's date, so any night can be replayed):
 * sync the register, renew what is due (at most once per licence, expiry and night, whatever reruns or
 * concurrent runs do), alert (each alert at most once), and send one summary.
 */
export async function runNight(deps: WatcherDeps, night: IsoDate, at: Date): Promise<NightReport> {
  const { billing, register, catalogue, settings } = deps;
  const report: NightReport = {
    night,
    sync: { listed: 0, added: 0, updated: 0, gone: 0, unchanged: 0 },
    syncWrites: 0,
    renewed: [],
    failed: [],
    unknown: [],
    busy: [],
    renewedElsewhere: [],
    sent: [],
    alreadySent: 0,
    undelivered: 0,
    expiringSoon: [],
  };

  const ledgerKey = (a: Alert) => `${a.ledger.subject}|${a.kind}|${a.ledger.threshold}`;

  /** Records it, then sends it; a send that fails is forgotten, so a rerun tries again. */
  async function deliver(alert: Alert, ledger: Alert[] = [alert]): Promise<void> {
    const claimed = await mapLimit(ledger, settings.registerConcurrency, (a) =>
      register.alerts.claim(a.ledger.subject, a.kind, a.ledger.threshold, night),
    );
    const mine = ledger.filter((_, i) => claimed[i]);
    report.alreadySent += ledger.length - mine.length;
    if (mine.length === 0) return;
    const sending = mine.length === ledger.length ? alert : digest(mine);
    try {
      await deps.notifier.send(sending);
      report.sent.push(sending);
    } catch {
      report.undelivered++;
      await mapLimit(mine, settings.registerConcurrency, (a) =>
        register.alerts.release(a.ledger.subject, a.kind, a.ledger.threshold),
      );
    }
  }

  /**
   * Sends what is due and not sent before. One batched read finds what was; many alerts of one kind
   * about single licences go out as one digest e-mail (each licence still recorded on its own), so a
   * large fleet never floods an inbox.
   */
  async function deliverAll(list: Alert[]): Promise<void> {
    const recorded = await register.alerts.recorded(
      list.map((a) => ({ subject: a.ledger.subject, kind: a.kind, threshold: a.ledger.threshold })),
    );
    const fresh = list.filter((a) => !recorded.has(ledgerKey(a)));
    report.alreadySent += list.length - fresh.length;
    const byKind = new Map<AlertKind, Alert[]>();
    for (const alert of fresh.filter((a) => a.licenceId !== undefined)) {
      byKind.set(alert.kind, [...(byKind.get(alert.kind) ?? []), alert]);
    }
    const digested = new Set<Alert>();
    for (const group of byKind.values()) {
      if (group.length < settings.digestMin) continue;
      for (const alert of group) digested.add(alert);
      await deliver(digest(group), group);
    }
    for (const alert of fresh.filter((a) => !digested.has(a))) await deliver(alert);
  }

  // 1. The vendor's whole list. Without it nothing else is safe to do: say so once, and fail loudly.
  let listed: Awaited<ReturnType<BillingClient["list"]>>;
  try {
    listed = await billing.list();
  } catch (error) {
    const reason = redact(error instanceof Error ? error.message : String(error));
    await deliverAll([alerts.vendorUnreachable(night, reason)]);
    throw new VendorUnreachableError(
      `night ${night}: the vendor's licence list could not be read: ${reason}`,
      {
        cause: error,
      },
    );
  }

  // 2. Sync.
  const sync = await syncRegister(
    {
      billing,
      licences: register.licences,
      catalogue,
      vendorConcurrency: settings.vendorConcurrency,
      registerConcurrency: settings.registerConcurrency,
    },
    listed,
    night,
    at,
  );
  report.sync = {
    listed: sync.listed,
    added: sync.added.length,
    updated: sync.updated.length,
    gone: sync.gone.length,
    unchanged: sync.unchanged,
  };
  report.syncWrites = sync.writes;
  const records = sync.records;
  const productOf = (l: LicenceRecord): Product | undefined => catalogue.byPricelist(l.pricelist);

  const due: Alert[] = [];
  for (const change of sync.updated) {
    const { before, after } = change;
    if (!before) continue;
    if (before.status !== "suspended" && after.status === "suspended") {
      due.push(alerts.vendorSuspended(night, after, productOf(after)));
    }
    if (before.status !== "deleted" && after.status === "deleted") {
      due.push(alerts.vendorDeleted(night, after, productOf(after), false));
    }
  }
  for (const change of sync.gone) {
    if (change.before?.status !== "deleted")
      due.push(alerts.vendorDeleted(night, change.after, productOf(change.after), true));
  }
  for (const change of [...sync.added, ...sync.updated]) {
    if (change.detailError) due.push(alerts.syncFailed(night, change.after, change.detailError));
  }

  // 3. What to renew tonight, and whether the balance covers what is due this week.
  const live = [...records.values()].filter(isLive);
  const toRenew: Array<{ licence: LicenceRecord; renewal: Renewal }> = [];
  for (const licence of live) {
    const decision = decideRenewal(licence, productOf(licence), night, settings);
    if (decision.action === "renew") toRenew.push({ licence, renewal: decision.renewal });
  }
  await forecastBalance();

  // 4. Renew, each licence isolated from the others' failures.
  const desk = licenceDesk(
    { billing, register, catalogue, idempotency: deps.idempotency },
    { client: "watcher", now: at },
  );
  await mapLimit(toRenew, settings.vendorConcurrency, async ({ licence, renewal }) => {
    const product = productOf(licence);
    try {
      const result = await desk.renew(licence.id, { period: renewal.period }, renewalKey(licence));
      if (result.statusCode === 200) {
        const after = result.body as LicenceRecord;
        records.set(licence.id, after);
        if (!result.replayed) {
          report.renewed.push({
            id: licence.id,
            name: licence.name,
            from: licence.expiresOn,
            to: after.expiresOn,
            period: renewal.period,
            reason: renewal.reason,
          });
        }
      } else {
        // A rerun found that an unanswered renewal was not applied: a failure like any other, retried tomorrow.
        const reason =
          (result.body as { error?: { message?: string } }).error?.message ?? `HTTP ${result.statusCode}`;
        report.failed.push({ id: licence.id, name: licence.name, reason });
        due.push(alerts.renewalFailed(night, licence, product, reason));
      }
    } catch (error) {
      if (error instanceof RequestInProgressError) {
        report.busy.push(licence.id);
      } else if (error instanceof OutcomeUnknownError) {
        report.unknown.push({ id: licence.id, name: licence.name });
        due.push(alerts.renewalUnknown(night, licence, product));
      } else if (error instanceof LifecycleClosedError) {
        report.failed.push({ id: licence.id, name: licence.name, reason: error.message });
      } else {
        const reason =
          error instanceof BillmgrVendorError
            ? error.vendorMessage
            : redact(error instanceof Error ? error.message : String(error));
        report.failed.push({ id: licence.id, name: licence.name, reason });
        due.push(alerts.renewalFailed(night, licence, product, reason));
        if (!(error instanceof BillmgrError))
          console.error(JSON.stringify({ level: "ERROR", night, licence: licence.id, reason }));
      }
    }
  });

  // 5. Alerts from tonight's state (after renewals: a renewed licence is not warned about).
  for (const licence of [...records.values()].filter(isLive)) {
    const product = productOf(licence);
    const expiresOn = licence.expiresOn;
    if (expiresOn === undefined) continue;
    const closed = product !== undefined && !renewalsOpen(product, night);
    if (licence.autoRenew !== null && closed && expiresOn >= night) {
      due.push(
        alerts.cannotRenew(night, licence, product, product?.lifecycle.renewalsCloseOn ?? "", expiresOn),
      );
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
  await deliverAll(due);

  // 6. One summary per night.
  const horizon = addDays(night, settings.expiringSoonDays);
  report.expiringSoon = [...records.values()]
    .filter((l) => isLive(l) && l.expiresOn !== undefined && l.expiresOn >= night && l.expiresOn <= horizon)
    .sort((a, b) => (a.expiresOn ?? "").localeCompare(b.expiresOn ?? ""));
  // Renewals another run holds: wait for their outcome, so whichever run sends the summary tells it all.
  await settleBusy();
  await deliverAll([summary(report, settings.expiringSoonDays)]);
  return report;

  /**
   * Keyed by licence, the expiry it renews and the night: a rerun or a concurrent run of this night
   * renews nothing twice; an unknown outcome is reconciled by a rerun, or by tomorrow's sync.
   */
  function renewalKey(licence: LicenceRecord): string {
    return `watch:${licence.id}:${licence.expiresOn}:${night}`;
  }

  async function settleBusy(): Promise<void> {
    const waiting = new Map(
      toRenew.filter((r) => report.busy.includes(r.licence.id)).map((r) => [r.licence.id, r]),
    );
    for (let poll = 0; poll < BUSY_POLLS && waiting.size > 0; poll++) {
      if (poll > 0) await new Promise((done) => setTimeout(done, BUSY_POLL_MS));
      for (const [id, { licence, renewal }] of waiting) {
        const record = await register.idempotency.find("watcher", renewalKey(licence));
        if (record?.status !== "completed") continue;
        waiting.delete(id);
        const after = record.response?.body as LicenceRecord | undefined;
        if (record.response?.statusCode === 200 && after) {
          records.set(id, after);
          report.renewedElsewhere.push({
            id,
            name: licence.name,
            from: licence.expiresOn,
            to: after.expiresOn,
            period: renewal.period,
            reason: renewal.reason,
          });
        }
      }
    }
  }

  async function forecastBalance(): Promise<void> {
    const dueThisWeek: string[] = [];
    let dueMinor = 0;
    for (const licence of live) {
      const product = productOf(licence);
      if (!product) continue;
      const next = renewalNight(licence, product, night, settings, settings.balanceForecastDays);
      if (!next) continue;
      const cost = renewalCost(product, next.renewal.period, licence.nodes);
      dueMinor += cost;
      dueThisWeek.push(
        `${next.night}: ${licence.name} (id ${licence.id}), ${next.renewal.period} month(s), ${(cost / 100).toFixed(2)}`,
      );
    }
    if (dueMinor === 0) return;
    let balance: Awaited<ReturnType<BillingClient["balance"]>>;
    try {
      balance = await billing.balance();
    } catch {
      return; // no balance reported: nothing to forecast against
    }
    if (balance && balance.minor < dueMinor) {
      due.push(alerts.lowBalance(night, balance, dueMinor, dueThisWeek, settings.balanceForecastDays));
    }
  }
}

function summary(report: NightReport, soonDays: number): Alert {
  const byKind = new Map<AlertKind, number>();
  for (const alert of report.sent) byKind.set(alert.kind, (byKind.get(alert.kind) ?? 0) + 1);
  const lines = [
    `Nightly run for ${report.night}.`,
    "",
    `Sync: ${report.sync.listed} licences listed by the vendor; ${report.sync.added} new, ${report.sync.updated} changed, ${report.sync.gone} gone, ${report.sync.unchanged} unchanged.`,
    "",
    `Renewed (${report.renewed.length + report.renewedElsewhere.length}):`,
    ...[...report.renewed, ...report.renewedElsewhere].map(
      (r) =>
        `  ${r.name} (id ${r.id}): ${r.from ?? "?"} -> ${r.to ?? "?"}, ${r.period} month(s), ${r.reason}`,
    ),
    `Failed (${report.failed.length}):`,
    ...report.failed.map((f) => `  ${f.name} (id ${f.id}): ${f.reason}`),
    ...(report.unknown.length > 0
      ? [
          `Outcome unknown, reconciled next run (${report.unknown.length}):`,
          ...report.unknown.map((u) => `  ${u.name} (id ${u.id})`),
        ]
      : []),
    `Alerts raised (${report.sent.length}): ${[...byKind].map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`,
    "",
    `Expiring in the next ${soonDays} days (${report.expiringSoon.length}):`,
    ...report.expiringSoon
      .slice(0, 100)
      .map(
        (l) =>
          `  ${l.expiresOn}  ${l.name} (id ${l.id}, ${l.ip})${l.autoRenew ? `, renews automatically (${l.autoRenew} month(s))` : ""}`,
      ),
    ...(report.expiringSoon.length > 100 ? [`  … and ${report.expiringSoon.length - 100} more`] : []),
    "",
  ];
  const problems = report.failed.length + report.unknown.length;
  return {
    kind: "summary",
    severity: problems > 0 ? "warning" : "info",
    title:
      `[licence desk] Night ${report.night}: ${report.renewed.length + report.renewedElsewhere.length} renewed, ${problems} failed, ${report.expiringSoon.length} expiring within ${soonDays} days`.slice(
        0,
        99,
      ),
    body: lines.join("\n"),
    licenceId: undefined,
    night: report.night,
    ledger: { subject: "watcher", threshold: `summary:${report.night}` },
  };
}
