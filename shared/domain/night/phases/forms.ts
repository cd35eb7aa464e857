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
): Promise<void> {
  const { report } = run;
  const result = await readForms(syncDeps(run), forms, run.night, run.at, run.stopAtMs);
  for (const change of result.changes) records.set(change.after.id, change.after);
  const left = formsPending(records.values());
  report.forms = {
    due: forms.length,
    read: result.read,
    failed: result.failed,
    left,
    stopped: result.left > 0,
    throttled: result.throttled,
  };
  report.syncWrites += result.changes.length;
  // A key issued or changed is a change at the vendor; a form filling in its row is not.
  report.sync.updated += result.changes.filter((c) => !c.completes).length;
  await noteNightSync(run, records.values(), left);
}
