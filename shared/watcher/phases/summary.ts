import { addDays, type IsoDate } from "../../dates.ts";
import type { LicenceRecord, NightRecord, NightRenewal, Register } from "../../register/types.ts";
import type { Alert, AlertKind } from "../alerts.ts";
import { composedLater, recordAlerts } from "../delivery.ts";
import { isLive } from "../plan.ts";
import type { NightRun } from "./run.ts";

/** The night's one summary, in the ledger like every alert: a rerun does not send it again. */
export const summaryLedger = (night: IsoDate) => ({ subject: "watcher", threshold: `summary:${night}` });

/**
 * Records the night's summary as pending. Its mail is composed when it is sent, from the register's
 * record of the night (every run's renewals and alerts), never from this run's memory.
 */
export async function summaryPhase(run: NightRun): Promise<void> {
  const entry = composedLater({ kind: "summary", night: run.night, ledger: summaryLedger(run.night) });
  run.report.alreadySent += await recordAlerts(run.deps.register.alerts, [entry]);
}

/** The night's counts as the register holds them. */
export interface NightCounts {
  renewed: number;
  failed: number;
  /** Sent and not known yet, in flight elsewhere, or held by a run (live or interrupted). */
  awaiting: number;
}

export function nightCounts(record: NightRecord): NightCounts {
  const of = (...outcomes: NightRenewal["outcome"][]) =>
    record.renewals.filter((r) => outcomes.includes(r.outcome)).length;
  return {
    renewed: of("applied"),
    failed: of("refused"),
    awaiting: of("unknown", "pending", "in_flight", "in_progress", "started"),
  };
}

/**
 * The summary of a night, from the register. Undefined while a live run still holds one of its
 * renewals: that run sends it when done, so it tells the night's whole story. (A run that dies holding
 * one lets its lease run out; whichever run comes next, a rerun or the next night, sends it then.)
 */
export async function composeSummary(
  deps: { register: Register; settings: { expiringSoonDays: number } },
  night: IsoDate,
  nowMs: number,
): Promise<Alert | undefined> {
  const record = await deps.register.nights.read(night);
  if (record.renewals.some((r) => r.outcome === "started" && (r.leaseUntil ?? 0) >= nowMs)) return undefined;
  const soonDays = deps.settings.expiringSoonDays;
  const expiringSoon = await expiring(deps.register, night, soonDays);
  const counts = nightCounts(record);
  const by = (...outcomes: NightRenewal["outcome"][]) =>
    record.renewals
      .filter((r) => outcomes.includes(r.outcome))
      .sort((a, b) => a.name.localeCompare(b.name) || a.licenceId.localeCompare(b.licenceId));
  const line = (r: NightRenewal, what: string) => `  ${r.name} (id ${r.licenceId}): ${what}`;
  const kinds = new Map<string, number>();
  for (const a of record.alerts) kinds.set(a.kind as AlertKind, (kinds.get(a.kind) ?? 0) + 1);
  const awaiting = by("unknown", "pending", "in_flight", "in_progress", "started");
  const skipped = by("skipped");
  const { sync } = record;

  const lines = [
    `Nightly run for ${night}.`,
    "",
    `Sync: ${sync.listed} licences listed by the vendor; ${sync.added} new, ${sync.updated} changed, ${sync.gone} gone.`,
    "",
    `Renewed (${counts.renewed}):`,
    ...by("applied").map((r) =>
      line(r, `${r.from ?? "?"} -> ${r.to ?? "?"}, ${r.period} month(s), ${r.reason}`),
    ),
    `Failed (${counts.failed}):`,
    ...by("refused").map((r) => line(r, r.detail ?? "refused")),
    ...(awaiting.length > 0
      ? [
          `Awaiting the outcome, not failed (${awaiting.length}):`,
          ...awaiting.map((r) => line(r, awaitingText(r))),
        ]
      : []),
    ...(skipped.length > 0
      ? [`Not renewed after all (${skipped.length}):`, ...skipped.map((r) => line(r, r.detail ?? ""))]
      : []),
    `Alerts raised (${record.alerts.length}): ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`,
    "",
    `Expiring in the next ${soonDays} days (${expiringSoon.length}):`,
    ...expiringSoon
      .slice(0, 100)
      .map(
        (l) =>
          `  ${l.expiresOn}  ${l.name} (id ${l.id}, ${l.ip})${l.autoRenew ? `, renews automatically (${l.autoRenew} month(s))` : ""}`,
      ),
    ...(expiringSoon.length > 100 ? [`  … and ${expiringSoon.length - 100} more`] : []),
    "",
  ];
  const problems = counts.failed + counts.awaiting;
  const title = [
    `[licence desk] Night ${night}: ${counts.renewed} renewed, ${counts.failed} failed, `,
    counts.awaiting > 0 ? `${counts.awaiting} awaiting outcome, ` : "",
    `${expiringSoon.length} expiring within ${soonDays} days`,
  ].join("");
  return {
    kind: "summary",
    severity: problems > 0 ? "warning" : "info",
    title: title.slice(0, 99),
    body: lines.join("\n"),
    licenceId: undefined,
    night,
    ledger: summaryLedger(night),
  };
}

function awaitingText(r: NightRenewal): string {
  switch (r.outcome) {
    case "unknown":
    case "pending":
      return "sent, the vendor has not confirmed it yet; it is never sent again blindly, the reconciler decides it from the vendor's expiry";
    case "in_flight":
      return "another renewal of this licence was in flight; nothing sent tonight";
    case "in_progress":
      return "its renewal was held by another run; nothing sent by this one";
    default:
      return "taken by a run that was interrupted; the next run finishes it";
  }
}

/** Live licences expiring from the night to `days` after it, through the expiry index (a bounded query). */
async function expiring(register: Register, night: IsoDate, days: number): Promise<LicenceRecord[]> {
  const found: LicenceRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await register.licences.list({
      expiresFrom: night,
      expiresBefore: addDays(night, days + 1),
      limit: 1000,
      cursor,
    });
    found.push(...page.items.filter(isLive));
    cursor = page.cursor;
  } while (cursor);
  return found;
}
