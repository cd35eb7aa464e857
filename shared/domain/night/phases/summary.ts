import type { Alert } from "../../alerts/alerts.ts";
import { composedLater, recordAlerts } from "../../alerts/send-pending.ts";
import { addDays, type IsoDate } from "../../dates.ts";
import { mapLimit } from "../../map-limit.ts";
import type { IdempotencyRecord } from "../../ports/intent-store.ts";
import type { LicenceRecord } from "../../ports/licence-store.ts";
import type { Register } from "../../ports/register.ts";
import { isLive } from "../../renewal/renewal-rules.ts";
import type { WatcherDeps } from "../night-types.ts";
import type { NightRun } from "./run.ts";
import {
  hasNews,
  isWeeklyNight,
  namedLicences,
  renderSummary,
  type SummaryFacts,
  summaryLedger,
} from "./summary-mail.ts";

export type { NightCounts } from "../night-types.ts";
export { nightCounts, summaryLedger } from "./summary-mail.ts";

/**
 * Records the night's summary as pending. Its mail is composed when it is sent, from the register's
 * record of the night (every run's renewals and alerts), never from this run's memory.
 */
export async function summaryPhase(run: NightRun): Promise<void> {
  const mode = run.deps.settings.summaryMails;
  if (mode !== "nightly") {
    // Quiet nights send nothing (a later run of the night with news records it then).
    const news = hasNews(await run.deps.register.nights.read(run.night));
    const weekly = isWeeklyNight(run.night);
    const send = mode === "changes" ? news : mode === "weekly" ? weekly : news || weekly;
    if (!send) return;
  }
  const entry = composedLater({ kind: "summary", night: run.night, ledger: summaryLedger(run.night) });
  run.report.alreadySent += await recordAlerts(run.deps.register.alerts, [entry]);
}

/**
 * The summary of a night, from the register: its facts gathered first, then the mail rendered from
 * them (`summary-mail.ts`). Undefined while a live run still holds one of its renewals: that run sends
 * it when done, so it tells the night's whole story. (A run that dies holding one lets its lease run
 * out; whichever run comes next, a rerun or the next night, sends it then.)
 */
export async function composeSummary(
  deps: Pick<WatcherDeps, "register" | "settings" | "catalogue">,
  night: IsoDate,
  nowMs: number,
  reminders: readonly Alert[] = [],
): Promise<Alert | undefined> {
  const facts = await gatherSummary(deps.register, night, nowMs, deps.settings.expiringSoonDays);
  return facts && renderSummary({ ...facts, reminders }, deps);
}

/** Every register read the summary needs; undefined while a live run holds one of the night's renewals. */
async function gatherSummary(
  register: Register,
  night: IsoDate,
  nowMs: number,
  soonDays: number,
): Promise<SummaryFacts | undefined> {
  const record = await register.nights.read(night);
  if (record.renewals.some((r) => r.outcome === "started" && (r.leaseUntil ?? 0) >= nowMs)) return undefined;
  const expiringSoon = await expiring(register, night, soonDays);
  const undecided = await undecidedRenewals(register);
  const ids = namedLicences(record, undecided);
  const found = await mapLimit(ids, 25, (id) => register.licences.get(id));
  const licences = new Map<string, LicenceRecord>();
  for (const licence of found) if (licence) licences.set(licence.id, licence);
  const week = isWeeklyNight(night)
    ? await mapLimit([6, 5, 4, 3, 2, 1], 6, (back) => register.nights.read(addDays(night, -back)))
    : undefined;
  return { night, record, expiringSoon, undecided, licences, ...(week && { week }) };
}

/** Renewals (any client's, any night's) whose outcome a person must settle: each holds its licence. */
async function undecidedRenewals(register: Register): Promise<IdempotencyRecord[]> {
  return (await register.idempotency.unresolved(1000)).filter(
    (record) => record.undecided !== undefined && record.operation === "renew",
  );
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
