import { log } from "../../../log.ts";
import { redact } from "../../../redact.ts";
import { type Alert, alerts } from "../../alerts/alerts.ts";
import type { IsoDate } from "../../dates.ts";
import {
  LicenceStateRefusedError,
  OrderInFlightError,
  OutcomePendingError,
  OutcomeUnknownError,
  RequestInProgressError,
} from "../../licences/errors.ts";
import { refusalReason } from "../../licences/failed-calls.ts";
import { WATCHER_CLIENT } from "../../licences/idempotency-settings.ts";
import { mapLimit } from "../../map-limit.ts";
import type { LicenceRecord, SuccessorPlan } from "../../ports/licence-store.ts";
import { successorDueTonight, successorPlanFor } from "../../renewal/successor-plan.ts";
import type { NightRun } from "./run.ts";
import { watcherDesk } from "./watcher-desk.ts";

/**
 * The Idempotency-Key of a licence's planned successor on a night: a rerun or a concurrent run of the
 * night sends nothing twice; on a later night, the order slot of the IP (an open order), the link to a
 * placed successor and the vendor's one live licence per IP and generation keep it from being bought twice.
 */
export const successorKey = (licenceId: string, night: IsoDate) => `watch-successor:${licenceId}:${night}`;

/**
 * Planned successors due tonight (the plan's night, or the first night after it), each ordered through
 * the desk as `POST /licenses/{id}/successor` orders it, under the outcome model. A plan is carried out
 * once, ever: once its successor is placed (tonight, or found placed), the plan records the night. After
 * the renewals (what is due tonight is paid first) and before the retirements (one to retire now goes
 * tonight, as the desk's order did not).
 */
export async function successorPhase(run: NightRun, records: Map<string, LicenceRecord>): Promise<void> {
  const { deps, night, report } = run;
  await finishCarriedOut(run, records);
  const due = [...records.values()].filter((record) =>
    successorDueTonight(successorPlanFor(record, deps.catalogue, night, deps.settings), record, night),
  );
  if (due.length === 0) return;
  const desk = watcherDesk(run);
  const raised: Alert[] = [];
  await mapLimit(due, deps.settings.vendorConcurrency, async (planned) => {
    // Decided again from a fresh read: a reseller may have dropped the plan, or ordered it by hand.
    const licence = await deps.register.licences.get(planned.id);
    if (!licence) return;
    const plan = successorPlanFor(licence, deps.catalogue, night, deps.settings);
    if (!plan || !successorDueTonight(plan, licence, night)) return;
    const key = successorKey(licence.id, night);
    const named = { id: licence.id, name: licence.name };
    try {
      const result = await desk.successor(
        licence.id,
        { period: plan.plan.period, product: plan.product.id, retireOld: plan.plan.retireOld },
        key,
      );
      if (result.outcome !== "applied") {
        report.successorsFailed.push({ ...named, reason: result.refusal.message });
        raised.push(failed(run, licence, plan.product.title, plan.plan.period, result.refusal.message));
        return;
      }
      const successor = result.licence;
      const linked = (await deps.register.licences.get(licence.id)) ?? licence;
      // Told before the plan is marked carried out: a run killed in between is finished by the next one.
      await run.raise([alerts.successorOrdered(night, run.tell(linked), successor, key)]);
      const old = await carriedOut(run, licence.id, plan.plan);
      records.set(licence.id, old ?? linked);
      records.set(successor.id, successor);
      // A replay (another run of the night ordered it under tonight's key) is that run's to report.
      if (!result.replayed) report.successorsOrdered.push({ ...named, successorId: successor.id });
    } catch (error) {
      const message = redact(error instanceof Error ? error.message : String(error));
      if (error instanceof LicenceStateRefusedError && error.code === "successor_exists") {
        // Ordered meanwhile (by hand, or an earlier night's order settled): the plan is done.
        const old = await carriedOut(run, licence.id, plan.plan);
        if (old) records.set(old.id, old);
        return;
      }
      if (
        error instanceof OutcomeUnknownError ||
        error instanceof OutcomePendingError ||
        error instanceof OrderInFlightError ||
        error instanceof RequestInProgressError
      ) {
        // Sent and not known yet, or another order of this IP open: settled by the reconciler (which
        // tells staff of an order placed after all); tomorrow finds it linked, or orders it.
        report.successorsAwaiting.push(named);
        return;
      }
      const reason = refusalReason(error) ?? message;
      if (refusalReason(error) === undefined)
        log("WARN", "planned successor not ordered (not a vendor refusal)", {
          night,
          licence: licence.id,
          reason: message,
        });
      report.successorsFailed.push({ ...named, reason });
      raised.push(failed(run, licence, plan.product.title, plan.plan.period, reason));
    }
  });
  await run.raise(raised);
}

/**
 * Plans whose successor is placed and linked but not marked carried out (a run killed in between, or one
 * ordered by hand before its night): marked now, so no night orders one again. One the watcher placed
 * (its key names the night the successor was created) is told now if it was not yet; the ledger keeps it
 * once.
 */
async function finishCarriedOut(run: NightRun, records: Map<string, LicenceRecord>): Promise<void> {
  const { deps } = run;
  const unfinished = [...records.values()].filter(
    (r) =>
      r.successorId !== undefined &&
      (r.successorPlan === undefined
        ? deps.settings.planSuccessors
        : r.successorPlan?.orderedOn === undefined) &&
      r.successorPlan !== null,
  );
  for (const record of unfinished) {
    const successor = await deps.register.licences.get(record.successorId ?? "");
    const on = successor?.createdOn;
    const key = on === undefined ? undefined : successorKey(record.id, on);
    const intent = key === undefined ? undefined : await deps.register.idempotency.find(WATCHER_CLIENT, key);
    // Placed by the watcher's key: answered, or applied at the vendor with the answer not built yet (a
    // run killed right after the link).
    const ours =
      successor !== undefined &&
      key !== undefined &&
      (intent?.response?.outcome === "applied" ||
        (intent?.status === "applied" && intent.facts.licenceId === successor.id));
    if (ours) await run.raise([alerts.successorOrdered(on ?? run.night, run.tell(record), successor, key)]);
    // A fleet-wide plan is carried out too once the licence has its successor, by whoever ordered it.
    const plan = record.successorPlan ?? {
      period: record.autoRenew ?? 12,
      retireOld: record.retireOld ?? "after_expiry",
    };
    const done = await carriedOut(run, record.id, plan, on ?? run.night);
    if (done) records.set(done.id, done);
  }
}

function failed(
  run: NightRun,
  licence: LicenceRecord,
  product: string,
  period: number,
  reason: string,
): Alert {
  return alerts.successorFailed(run.night, run.tell(licence), product, period, reason);
}

/** The plan marked carried out (tonight's night), so no night orders it again, whatever the fleet setting. */
async function carriedOut(
  run: NightRun,
  id: string,
  plan: SuccessorPlan,
  on: IsoDate = run.night,
): Promise<LicenceRecord | undefined> {
  return run.deps.register.licences
    .update(id, { successorPlan: { ...plan, orderedOn: on } })
    .catch(() => undefined);
}
