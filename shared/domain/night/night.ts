import { errorText, log } from "../../log.ts";
import type { IsoDate } from "../dates.ts";
import type { NightReport, WatcherDeps } from "./night-types.ts";
import { alertPhase } from "./phases/alert.ts";
import { decidePhase, forecastPhase } from "./phases/decide.ts";
import { formsPhase } from "./phases/forms.ts";
import { listPhase } from "./phases/list.ts";
import { renewPhase } from "./phases/renew.ts";
import { forgetLostSuccessors, retirePhase } from "./phases/retire.ts";
import { nightRun } from "./phases/run.ts";
import { sendPhase } from "./phases/send.ts";
import { successorPhase } from "./phases/successors.ts";
import { summaryPhase } from "./phases/summary.ts";
import { syncPhase } from "./phases/sync.ts";

export type { NightReport, RenewedLicence, WatcherDeps, WatcherSettings } from "./night-types.ts";
export { VendorUnreachableError } from "./phases/list.ts";

/**
 * One night of the watcher, for the night given (the schedule's date, so any night can be replayed):
 * sync the register, renew what is due (at most once per licence and night, whatever reruns or
 * concurrent runs do), order the successors planned for tonight, retire succeeded licences, alert (each alert once, none lost to a killed run), and send one summary that
 * counts from the register.
 */
export async function runNight(deps: WatcherDeps, night: IsoDate, at: Date): Promise<NightReport> {
  const run = nightRun(deps, night, at);
  await reconcileFirst(deps, at);
  const listed = await listPhase(run);
  const { records, forms } = await syncPhase(run, listed);
  await forgetLostSuccessors(run, records);
  const planned = decidePhase(run, records);
  await renewPhase(run, planned, records);
  await successorPhase(run, records);
  await retirePhase(run, records);
  await forecastPhase(run, records);
  await alertPhase(run, records);
  await formsPhase(run, forms, records, listed);
  await summaryPhase(run);
  await sendPhase(run);
  return run.report;
}

/**
 * The forms a run of the night left unbegun, from the night's record: what a continuation run carries
 * on (0: nothing; undefined: no run of the night has counted them, so it has not begun).
 */
export async function formsLeftOf(
  deps: Pick<WatcherDeps, "register">,
  night: IsoDate,
): Promise<number | undefined> {
  return (await deps.register.nights.read(night)).sync.formsLeft;
}

/** Unknown outcomes settled first, so tonight decides on them; a failing reconciler does not stop the night. */
async function reconcileFirst(deps: WatcherDeps, at: Date): Promise<void> {
  if (!deps.reconcile) return;
  try {
    await deps.reconcile(at);
  } catch (error) {
    log("ERROR", "reconciler failed before the night; the night goes on", { error: errorText(error) });
  }
}
