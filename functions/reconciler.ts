import { readWatcherConfig } from "../shared/config.ts";
import { deskDeps } from "./lib/desk.ts";
import { publishing } from "./lib/metrics.ts";
import { alertNotifier } from "./lib/notifier.ts";
import { reconcileAndTell } from "./lib/reconcile.ts";

const notifier = alertNotifier(readWatcherConfig().ALERT_TOPIC_ARN);

async function reconcilePass(): Promise<{
  settled: number;
  pending: number;
  stale: number;
  alerts: number;
}> {
  const report = await reconcileAndTell(deskDeps, notifier, new Date());
  console.log(
    JSON.stringify({
      level: "INFO",
      message: "reconcile pass done",
      settled: report.settled.length,
      pending: report.pending,
      overdue: report.overdue,
      stale: report.stale.length,
      alertsSent: report.alertsSent,
      alertsUndelivered: report.alertsUndelivered,
    }),
  );
  return {
    settled: report.settled.length,
    pending: report.pending,
    stale: report.stale.length,
    alerts: report.alertsSent,
  };
}

/** Every 15 minutes (EventBridge Scheduler): settle what can be settled, tell staff what they must know. */
export const handler = publishing(reconcilePass);
