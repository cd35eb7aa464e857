import { deliverOnce } from "../../shared/domain/alerts/send-now.ts";
import type { DeskDeps } from "../../shared/domain/licences/context.ts";
import {
  RECONCILER_DEFAULTS,
  type ReconcileReport,
  reconcileUnresolved,
} from "../../shared/domain/licences/reconciler.ts";
import type { Notifier } from "../../shared/domain/ports/notifier.ts";
import { reconcileFigures } from "./figures.ts";

/** One reconciler pass and its alerts, as the 15-minute schedule and each watcher night run it. */
export async function reconcileAndTell(
  deps: DeskDeps,
  notifier: Notifier,
  at: Date,
  /** Epoch ms by which the pass stops taking intents (its Lambda's time, less what sending takes). */
  deadlineMs?: number,
): Promise<ReconcileReport & { alertsSent: number; alertsUndelivered: number }> {
  const report = await reconcileUnresolved(deps, at, {
    ...RECONCILER_DEFAULTS,
    ...(deadlineMs !== undefined && { deadlineMs }),
  });
  const delivered = await deliverOnce(deps.register.alerts, notifier, report.alerts, deps.nowMs);
  const told = { ...report, alertsSent: delivered.sent, alertsUndelivered: delivered.undelivered };
  reconcileFigures(told);
  return told;
}
