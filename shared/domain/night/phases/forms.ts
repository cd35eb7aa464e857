import type { LicenceList } from "../../ports/billing.ts";
import type { LicenceRecord } from "../../ports/licence-store.ts";
import type { FormRead } from "../sync/plan.ts";
import { readForms } from "../sync.ts";
import type { NightRun } from "./run.ts";
import { formsPending, noteNightSync, syncDeps } from "./sync.ts";

/**
 * The licences' forms (key, nodes) the sync found due, read after the night's renewals and alerts with
 * the time the run has left: optional work, never before what is due. Each is written as it is read, so
 * a run that stops (its time up, or killed) keeps what it read; the next run (a continuation, a retry,
 * or the next night) reads the rest, those waiting longest first. What is left is noted for the summary.
 */
export async function formsPhase(
  run: NightRun,
  forms: readonly FormRead[],
  records: Map<string, LicenceRecord>,
  listed: LicenceList,
): Promise<void> {
  const { report } = run;
  const due = [...forms, ...markedSince(forms, records, listed)];
  const result = await readForms(syncDeps(run), due, run.night, run.at, run.stopAtMs);
  for (const change of result.changes) records.set(change.after.id, change.after);
  const left = formsPending(records.values());
  report.forms = {
    due: due.length,
    read: result.read,
    failed: result.failed,
    left,
    stopped: result.left > 0,
    throttled: result.throttled,
  };
  report.syncWrites += result.changes.length;
  // A key issued or changed is a change at the vendor; a form filling in its row is not.
  report.sync.updated += result.changes.filter((c) => !c.completes).length;
  // Left for the continuation runs: only forms this run did not begin (its time ran out, or the vendor
  // throttled). One whose read failed is told (`sync_failed`) and tried again the next night, not by
  // eight continuations reading the whole list again for it.
  await noteNightSync(run, records.values(), result.left);
}

/**
 * Listed licences marked for their form after the sync planned the reads: a renewal whose answer was
 * written from the list because its form could not be read (the vendor throttled it) is read tonight
 * with the others, after them, not left for the next run.
 */
function markedSince(
  forms: readonly FormRead[],
  records: ReadonlyMap<string, LicenceRecord>,
  listed: LicenceList,
): FormRead[] {
  const planned = new Set(forms.map((f) => f.row.id));
  const rows = new Map(listed.rows.map((row) => [row.id, row]));
  const later: FormRead[] = [];
  for (const record of records.values()) {
    const row = rows.get(record.id);
    if (!row || planned.has(record.id) || record.formPending !== true) continue;
    if (record.goneSince !== undefined || record.status === "deleted") continue;
    later.push({ row, before: record });
  }
  return later;
}
