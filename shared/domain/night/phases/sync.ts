import { log } from "../../../log.ts";
import { type Alert, alerts } from "../../alerts/alerts.ts";
import type { LicenceList } from "../../ports/billing.ts";
import type { LicenceRecord } from "../../ports/licence-store.ts";
import { SYNC_NAMED } from "../../ports/night-ledger.ts";
import type { FormRead } from "../sync/plan.ts";
import { type Change, nightSync, type SyncDeps, syncRegister } from "../sync.ts";
import type { NightRun } from "./run.ts";

/**
 * The register brought in line with the vendor's list. The alerts a change raises (suspended or
 * deleted by the vendor, gone from its list, form unreadable) are recorded before the change is written:
 * once written, the next run sees no change, so a run killed in between must have left them pending.
 * The night's sync counts, as the register holds them, go to the register's record of the night. From a list that could not
 * be proven complete nothing is marked gone tonight: the report says why, and so does one WARN line.
 */
export async function syncPhase(
  run: NightRun,
  listed: LicenceList,
): Promise<{ records: Map<string, LicenceRecord>; forms: FormRead[] }> {
  const { report } = run;
  if (!listed.complete) {
    report.listIncomplete = listed.incomplete ?? "no reason given";
    log(
      "WARN",
      "the vendor's licence list could not be proven complete: licences missing from it are not marked gone tonight; the next night reads it again",
      { night: run.night, listed: listed.rows.length, reason: report.listIncomplete },
    );
  }
  const sync = await syncRegister(syncDeps(run), listed, run.night, run.at);
  report.sync = {
    listed: sync.listed,
    added: sync.added.length,
    updated: sync.updated.length,
    gone: sync.gone.length,
    unchanged: sync.unchanged,
  };
  report.syncWrites = sync.writes;
  // The forms due are noted at once: a run that dies before reading them leaves the continuation its work.
  await noteNightSync(run, sync.records.values(), formsPending(sync.records.values()));
  return { records: sync.records, forms: sync.forms };
}

/** The sync's dependencies for this run: each change's alerts are recorded right before it is written. */
export function syncDeps(run: NightRun): SyncDeps {
  const { deps } = run;
  return {
    billing: deps.billing,
    licences: deps.register.licences,
    catalogue: deps.catalogue,
    vendorConcurrency: deps.settings.vendorConcurrency,
    registerConcurrency: deps.settings.registerConcurrency,
    nowMs: run.nowMs,
    listedAtMs: run.listedAtMs,
    beforeWrite: async (change) => run.raise(await changeAlerts(run, change)),
  };
}

/** Listed licences whose form (key, nodes) is still to be read. */
export function formsPending(records: Iterable<LicenceRecord>): number {
  let pending = 0;
  for (const r of records) if (r.formPending === true && r.goneSince === undefined) pending++;
  return pending;
}

/**
 * The whole night's sync as the register now holds it (a rerun counts what a killed run wrote), less
 * the licences renewed tonight: their new expiry is the night's renewal, told as such, not a change.
 */
export async function noteNightSync(
  run: NightRun,
  records: Iterable<LicenceRecord>,
  formsLeft?: number,
): Promise<void> {
  const { deps } = run;
  const renewedTonight = new Set(
    (await deps.register.nights.read(run.night)).renewals.map((r) => r.licenceId),
  );
  const { updatedIds, ...counts } = nightSync(records, run.report.sync.listed, run.night);
  const changed = updatedIds.filter((id) => !renewedTonight.has(id));
  await deps.register.nights.noteSync(run.night, {
    ...counts,
    updated: changed.length,
    updatedIds: changed.slice(0, SYNC_NAMED),
    ...(formsLeft !== undefined && { formsLeft }),
  });
}

export async function changeAlerts(run: NightRun, { before, after, detailError }: Change): Promise<Alert[]> {
  const due: Alert[] = [];
  // Told only for an alert: most changes raise none (a first import writes thousands).
  const told = () => run.tell(after);
  // Suspended after its expiry is the vendor's usual course with an unpaid licence: the expired alert
  // tells it. Only a suspension before the expiry, not ours, is a story of its own.
  const beforeExpiry = after.expiresOn === undefined || after.expiresOn >= run.night;
  if (
    before &&
    before.status !== "suspended" &&
    after.status === "suspended" &&
    !after.suspendedBy &&
    beforeExpiry &&
    !(await suspendedByUs(run, after.id))
  ) {
    due.push(alerts.vendorSuspended(run.night, told()));
  }
  // Deleted by the desk itself, retiring a succeeded licence (a run killed before it wrote so): its
  // retirement, told as such (kept once, whichever run tells it first), never as the vendor's deletion.
  if (before && before.status !== "deleted" && after.status === "deleted") {
    due.push(
      after.retiredOn === undefined
        ? alerts.vendorDeleted(run.night, told(), false)
        : alerts.licenceRetired(run.night, told(), after.successorId ?? "its successor"),
    );
  }
  if (
    before &&
    before.goneSince === undefined &&
    after.goneSince !== undefined &&
    before.status !== "deleted" &&
    after.retiredOn === undefined
  ) {
    due.push(alerts.vendorDeleted(run.night, told(), true));
  }
  if (detailError) due.push(alerts.syncFailed(run.night, told(), detailError));
  return due;
}

/**
 * Whether the desk suspended it after all: `before` was read at the start of the sync, and a suspend
 * through the API marks the register before it calls the vendor, so a suspension the form shows now
 * is ours if the register, read again now, says so. (One read, only for a licence newly suspended.)
 */
async function suspendedByUs(run: NightRun, id: string): Promise<boolean> {
  return (await run.deps.register.licences.get(id))?.suspendedBy === "desk";
}
