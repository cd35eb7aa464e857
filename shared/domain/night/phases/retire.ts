import { log } from "../../../log.ts";
import { type Alert, alerts } from "../../alerts/alerts.ts";
import { forgetLostSuccessor } from "../../licences/retire.ts";
import type { LicenceRecord } from "../../ports/licence-store.ts";
import { isLive } from "../../renewal/renewal-rules.ts";
import type { NightRun } from "./run.ts";
import { watcherDesk } from "./watcher-desk.ts";

/**
 * Succeeded licences set to be retired after their expiry (`retireOld: "after_expiry"`) are deleted at
 * the vendor from the first night after it, each once, and only while their successor runs there;
 * otherwise kept, and staff told once per expiry. After the renewals, so the night's alerts and summary
 * see the register as it now is.
 */
export async function retirePhase(run: NightRun, records: Map<string, LicenceRecord>): Promise<void> {
  const { night, report } = run;
  const due = [...records.values()].filter(
    (r) =>
      r.successorId !== undefined &&
      isLive(r) &&
      // One to retire at once whose retirement failed when its successor was placed: tonight.
      (r.retireOld === "now" ||
        (r.retireOld === "after_expiry" && r.expiresOn !== undefined && r.expiresOn < night)),
  );
  if (due.length === 0) return;
  const desk = watcherDesk(run);
  const raised: Alert[] = [];
  for (const licence of due) {
    const successorId = licence.successorId ?? "";
    try {
      // Raised as soon as the vendor has deleted it: a run killed before the register says so is
      // finished by the next night, which raises it again (kept once).
      const done = await desk.retireSucceeded(licence.id, (gone) =>
        run.raise([alerts.licenceRetired(night, run.tell(gone), successorId)]),
      );
      if (done.kind === "retired") {
        records.set(licence.id, done.licence);
        report.retired.push({ id: licence.id, name: licence.name, successorId });
      } else if (done.kind === "held") {
        const why = `its successor, licence ${successorId}, is ${done.successorStatus} at the vendor`;
        report.retireHeld.push({ id: licence.id, name: licence.name, why });
        raised.push(alerts.retireHeld(night, run.tell(licence), successorId, done.successorStatus));
      }
    } catch (error) {
      // The vendor could not be asked or refused: kept tonight, tried again tomorrow.
      log("WARN", "a succeeded licence could not be retired tonight", {
        night,
        licence: licence.id,
        successor: successorId,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }
  await run.raise(raised);
}

/** Predecessors of successors the sync found deleted or gone are succeeded no more (before tonight decides). */
export async function forgetLostSuccessors(
  run: NightRun,
  records: Map<string, LicenceRecord>,
): Promise<void> {
  for (const record of [...records.values()]) {
    const predecessor = await forgetLostSuccessor(run.deps.register.licences, record).catch(() => undefined);
    if (predecessor) records.set(predecessor.id, predecessor);
  }
}
