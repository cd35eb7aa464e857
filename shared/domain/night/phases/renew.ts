import { log } from "../../../log.ts";
import { redact } from "../../../redact.ts";
import { type Alert, alerts, type RefusedHow } from "../../alerts/alerts.ts";
import { addDays, type IsoDate } from "../../dates.ts";
import type { licenceDesk, MoneyResult } from "../../licences/desk.ts";
import {
  LifecycleClosedError,
  OutcomePendingError,
  OutcomeUnknownError,
  RenewalInFlightError,
  RenewalNotWantedError,
  RequestInProgressError,
} from "../../licences/errors.ts";
import { refusalReason } from "../../licences/failed-calls.ts";
import { WATCHER_CLIENT } from "../../licences/idempotency-settings.ts";
import { mapLimit } from "../../map-limit.ts";
import type { LicenceRecord } from "../../ports/licence-store.ts";
import type { NightRenewal, RenewalOutcome } from "../../ports/night-ledger.ts";
import { decideRenewal, type Renewal } from "../../renewal/renewal-rules.ts";
import type { Planned } from "./decide.ts";
import type { NightRun } from "./run.ts";
import { watcherDesk } from "./watcher-desk.ts";

/** The Idempotency-Key of a licence's renewal on a night: one renewal per licence per night, whatever its expiry. */
export const renewalKey = (licenceId: string, night: IsoDate) => `watch:${licenceId}:${night}`;

type LicenceDesk = ReturnType<typeof licenceDesk>;

/** What one attempt came to. */
interface Attempt {
  outcome: Exclude<RenewalOutcome, "started">;
  to?: IsoDate | undefined;
  detail?: string;
  alert?: Alert;
  after?: LicenceRecord;
  replayed?: boolean;
}

/**
 * Renews what was planned, each licence isolated from the others' failures. Right before each: a fresh
 * read of the licence, decided again (a reseller may have switched autoRenew off, or we suspended it,
 * since the sync), then tonight's renewal of the licence taken in the register (so concurrent runs and
 * reruns never both do it, and one applied tonight is never done again), then the desk's renewal under
 * the night's key, and its outcome recorded with any alert it calls for. Tonight's renewals still open
 * (sent and not known yet, or taken by a run that died) of licences no longer to renew are settled
 * from the desk's record of them, never sent again.
 */
export async function renewPhase(
  run: NightRun,
  planned: Planned[],
  records: Map<string, LicenceRecord>,
): Promise<void> {
  const { deps, night } = run;
  const desk = watcherDesk(run);

  /** One licence, decided again from a fresh read: renewed, or its open renewal of tonight settled. */
  const handle = async (licenceId: string, entry: NightRenewal | undefined) => {
    const fresh = await deps.register.licences.get(licenceId);
    if (!fresh) return;
    records.set(fresh.id, fresh);
    const decision = decideRenewal(fresh, run.productOf(fresh), night, deps.settings);
    if (decision.action !== "renew") return resolveOpen(run, desk, entry, records);
    // A renewal of tonight still open keeps its period: tonight's key names that one request.
    const open = entry !== undefined && OPEN.has(entry.outcome);
    const renewal = open
      ? { ...decision.renewal, period: entry.period as Renewal["period"] }
      : decision.renewal;
    await renewOne(run, desk, fresh, renewal, records, open ? entry : undefined);
  };

  const tonight = new Map((await deps.register.nights.read(night)).renewals.map((r) => [r.licenceId, r]));
  const plannedIds = new Set(planned.map((p) => p.licence.id));
  const work = [...plannedIds, ...[...tonight.keys()].filter((id) => !plannedIds.has(id))];
  await mapLimit(work, deps.settings.vendorConcurrency, (id) => handle(id, tonight.get(id)));

  // Renewals a concurrent run took and died holding, whose lease ran out while this run worked: this
  // run finishes them, so its summary tells the whole night. (Live ones are their runs' to finish.)
  const now = run.nowMs();
  const abandoned = (await deps.register.nights.read(night)).renewals.filter(
    (e) => e.outcome === "started" && e.run !== run.id && (e.leaseUntil ?? 0) < now,
  );
  await mapLimit(abandoned, deps.settings.vendorConcurrency, (e) => handle(e.licenceId, e));
  await tellRecovered(run, records);
}

/** How many nights back a failed renewal is looked for when the licence is renewed after all. */
const RECOVERY_NIGHTS = 7;

/**
 * Licences renewed tonight whose renewal failed on one of the nights before (the balance, most often):
 * staff who were told of the failure hear it has gone through (once per failure).
 */
async function tellRecovered(run: NightRun, records: Map<string, LicenceRecord>): Promise<void> {
  const renewed = run.report.renewed;
  if (renewed.length === 0) return;
  const nights = Array.from({ length: RECOVERY_NIGHTS }, (_, i) => addDays(run.night, -(i + 1)));
  const earlier = await mapLimit(nights, 4, (night) =>
    run.deps.register.nights.read(night).then(
      (record) => ({ night, renewals: record.renewals }),
      () => ({ night, renewals: [] as NightRenewal[] }),
    ),
  );
  const failed = new Map<string, { night: IsoDate; reason: string }>();
  // Nearest night first: the failure staff heard of last.
  for (const { night, renewals } of earlier) {
    for (const r of renewals)
      if (r.outcome === "refused" && !failed.has(r.licenceId))
        failed.set(r.licenceId, { night, reason: r.detail ?? "refused" });
  }
  const raised: Alert[] = [];
  for (const r of renewed) {
    const failure = failed.get(r.id);
    const licence = records.get(r.id);
    if (!failure || !licence) continue;
    raised.push(alerts.renewalRecovered(run.night, run.tell(licence), r, failure));
  }
  await run.raise(raised);
}

async function renewOne(
  run: NightRun,
  desk: LicenceDesk,
  licence: LicenceRecord,
  renewal: Renewal,
  records: Map<string, LicenceRecord>,
  /** Tonight's renewal of it, still open (its expiry before is the one it started from). */
  open?: NightRenewal,
): Promise<void> {
  const { deps, night, report } = run;
  const entry: NightRenewal = {
    licenceId: licence.id,
    name: licence.name,
    outcome: "started",
    from: open ? open.from : licence.expiresOn,
    to: undefined,
    period: renewal.period,
    reason: renewal.reason,
    detail: undefined,
    run: run.id,
    leaseUntil: run.nowMs() + deps.idempotency.lockMs,
    at: new Date(run.nowMs()).toISOString(),
  };
  const begun = await deps.register.nights.begin(night, entry, run.nowMs());
  if (!begun.began) {
    // Renewed tonight already (a rerun, or a concurrent run that finished it): nothing to do. Otherwise
    // another live run is doing it; the night's summary counts it from the register.
    if (begun.current.outcome !== "applied") report.busy.push(licence.id);
    return;
  }

  const attempt = await attemptRenewal(run, desk, licence, renewal);
  await recordAttempt(run, entry, attempt);

  const named = { id: licence.id, name: licence.name };
  // The register's view after the attempt (renewed, or the vendor's view that stopped it) is what the
  // night's alerts tell.
  if (attempt.after) records.set(licence.id, attempt.after);
  switch (attempt.outcome) {
    case "applied": {
      const renewed = {
        ...named,
        from: entry.from,
        to: attempt.to,
        period: renewal.period,
        reason: renewal.reason,
      };
      (attempt.replayed ? report.renewedElsewhere : report.renewed).push(renewed);
      break;
    }
    case "refused":
      report.failed.push({ ...named, reason: attempt.detail ?? "refused" });
      break;
    case "unknown":
    case "pending":
      report.unknown.push(named);
      break;
    case "in_flight":
    case "in_progress":
      report.busy.push(licence.id);
      break;
    case "skipped":
      report.skipped.push({ ...named, reason: attempt.detail ?? "" });
      break;
  }
}

/**
 * The desk's renewal, its answer or error mapped to a night outcome. An unknown or pending outcome, a
 * renewal in flight elsewhere, or a key another run holds are no failures: they await their outcome
 * (staff are told once of an unknown one). A refusal is a failure, alerted with the vendor's reason.
 */
/**
 * The attempt's alert, then its outcome in the night's record. The alert first: a run killed before the
 * outcome is written redoes the attempt (the desk answers from its record) and raises it again; the
 * ledger keeps it once.
 */
async function recordAttempt(run: NightRun, entry: NightRenewal, attempt: Attempt): Promise<void> {
  if (attempt.alert) await run.raise([attempt.alert]);
  await run.deps.register.nights.settle(run.night, {
    ...entry,
    outcome: attempt.outcome,
    to: attempt.to,
    detail: attempt.detail,
    at: new Date(run.nowMs()).toISOString(),
  });
  // The summary lists a night's first renewals; the log keeps every one (the summary says where).
  log("INFO", "renewal", {
    night: run.night,
    licence: entry.licenceId,
    name: entry.name,
    outcome: attempt.outcome,
    from: entry.from,
    to: attempt.to,
    period: entry.period,
    detail: attempt.detail,
  });
}

function attemptRenewal(
  run: NightRun,
  desk: LicenceDesk,
  licence: LicenceRecord,
  renewal: Renewal,
): Promise<Attempt> {
  return attempted(run, licence, () =>
    desk.renew(licence.id, { period: renewal.period }, renewalKey(licence.id, run.night), {
      onlyIfAutoRenew: true,
      plannedFrom: licence.expiresOn,
    }),
  );
}

/** The desk's renewal (or its settlement), its answer or error mapped to a night outcome. */
async function attempted(
  run: NightRun,
  licence: LicenceRecord,
  call: () => Promise<MoneyResult | undefined>,
): Promise<Attempt> {
  /** Refused, by the vendor or by the desk before sending: nothing charged, and staff are told why. */
  const failed = (reason: string, how: RefusedHow): Attempt => ({
    outcome: "refused",
    detail: reason,
    alert: alerts.renewalFailed(run.night, run.tell(licence), reason, how),
  });
  try {
    const result = await call();
    if (result === undefined) return NOTHING_SENT;
    if (result.outcome === "applied") {
      const after = result.licence;
      // Renewed, and still suspended at the vendor (suspended on purpose in its panel, where a renewal
      // does not resume it): staff must know the licence was paid for and does not run.
      const stillSuspended = after.status === "suspended" && after.suspendedBy === undefined;
      return {
        outcome: "applied",
        to: after.expiresOn,
        after,
        replayed: result.replayed,
        ...(stillSuspended && {
          alert: alerts.vendorSuspended(run.night, run.tell(after), !result.replayed),
        }),
      };
    }
    // Settled as not applied, on evidence, after the settle window: the licence was not renewed.
    return failed(result.refusal.message, "not_applied");
  } catch (error) {
    const message = redact(error instanceof Error ? error.message : String(error));
    if (error instanceof OutcomeUnknownError || error instanceof OutcomePendingError) {
      return {
        outcome: error instanceof OutcomeUnknownError ? "unknown" : "pending",
        detail: message,
        alert: alerts.renewalUnknown(run.night, run.tell(licence)),
      };
    }
    if (error instanceof RenewalInFlightError) return { outcome: "in_flight", detail: message };
    if (error instanceof RequestInProgressError) return { outcome: "in_progress", detail: message };
    if (error instanceof RenewalNotWantedError) return notWanted(run, licence, error, message);
    // Renewals closed, or the cap reached, as the desk sees tonight: never silent (the night's alerts
    // may not call it closed, were the two ever to disagree about the date).
    if (error instanceof LifecycleClosedError) return failed(message, "desk");
    const reason = refusalReason(error);
    if (reason === undefined) {
      log("WARN", "renewal not done (not a vendor refusal)", {
        night: run.night,
        licence: licence.id,
        reason: message,
      });
    }
    return failed(reason ?? message, reason !== undefined ? "vendor" : "desk");
  }
}

/**
 * Not sent after all. When the vendor's form showed why (renewed elsewhere, suspended there before its
 * expiry, deleted), the register now holds the vendor's view: the rest of the night tells that, and a
 * suspension or deletion is alerted as the sync alerts it (the same ledger keys, so never twice).
 */
async function notWanted(
  run: NightRun,
  licence: LicenceRecord,
  error: RenewalNotWantedError,
  detail: string,
): Promise<Attempt> {
  const atVendor = ["renewed_elsewhere", "suspended_at_vendor", "deleted_at_vendor"].includes(error.reason);
  const after = atVendor ? ((await run.deps.register.licences.get(licence.id)) ?? licence) : undefined;
  const told = after && run.tell(after);
  const alert =
    told && error.reason === "suspended_at_vendor"
      ? alerts.vendorSuspended(run.night, told)
      : told && error.reason === "deleted_at_vendor"
        ? alerts.vendorDeleted(run.night, told, false)
        : undefined;
  return { outcome: "skipped", detail, after, ...(alert && { alert }) };
}

/** An open renewal whose key holds no record of a send: none was sent, or it was refused and freed. */
const NOTHING_SENT: Attempt = {
  outcome: "skipped",
  detail: "no renewal under tonight's key was sent or charged, and the licence is no longer to renew",
};

/** Outcomes that may still change without anything being sent again. */
const OPEN: ReadonlySet<RenewalOutcome> = new Set([
  "started",
  "unknown",
  "pending",
  "in_flight",
  "in_progress",
]);

/**
 * One of tonight's renewals still open, for a licence no longer to renew (renewed meanwhile, or switched
 * off): settled from the desk's record of its key. Nothing sent under it: skipped. Sent: the desk says
 * what came of it (it never sends a key twice). Taken by a live run: left to that run.
 */
async function resolveOpen(
  run: NightRun,
  desk: LicenceDesk,
  entry: NightRenewal | undefined,
  records: Map<string, LicenceRecord>,
): Promise<void> {
  if (!entry || !OPEN.has(entry.outcome)) return;
  if (entry.outcome === "started" && (entry.leaseUntil ?? 0) >= run.nowMs()) return;
  const { deps, night, report } = run;
  const key = renewalKey(entry.licenceId, night);
  const intent = await deps.register.idempotency.find(WATCHER_CLIENT, key);
  const licence = await deps.register.licences.get(entry.licenceId);
  if (!licence) return;
  // Settled from its record, never sent: a key whose record is gone (refused and freed) is not claimed again.
  const attempt = intent ? await attempted(run, licence, () => desk.settle(intent)) : NOTHING_SENT;
  await recordAttempt(run, entry, attempt);
  const named = { id: entry.licenceId, name: entry.name };
  if (attempt.outcome === "applied") {
    if (attempt.after) records.set(entry.licenceId, attempt.after);
    const reason = entry.reason as Renewal["reason"];
    report.renewedElsewhere.push({
      ...named,
      from: entry.from,
      to: attempt.to,
      period: entry.period,
      reason,
    });
  } else if (attempt.outcome === "refused") report.failed.push({ ...named, reason: attempt.detail ?? "" });
  else if (attempt.outcome === "unknown" || attempt.outcome === "pending") report.unknown.push(named);
}
