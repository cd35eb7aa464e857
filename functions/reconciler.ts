import type { Context } from "aws-lambda";
import { readWatcherConfig } from "../shared/config.ts";
import { log } from "../shared/log.ts";
import { now } from "./lib/clock.ts";
import { deskDeps } from "./lib/desk.ts";
import { publishing } from "./lib/metrics.ts";
import { alertNotifier } from "./lib/notifier.ts";
import { reconcileAndTell } from "./lib/reconcile.ts";

const notifier = alertNotifier(readWatcherConfig().ALERT_TOPIC_ARN);

/** What a pass keeps back from its Lambda's time: the alerts it raised are sent after its loop. */
const SENDING_MARGIN_MS = 30_000;

async function reconcilePass(
  _event?: unknown,
  context?: Pick<Context, "getRemainingTimeInMillis">,
): Promise<{
  settled: number;
  pending: number;
  stale: number;
  alerts: number;
}> {
  const remaining = context?.getRemainingTimeInMillis?.();
  // It stops taking intents before the timeout: real time, whatever a test did to the desk's clock.
  const deadlineMs = remaining === undefined ? undefined : Date.now() + remaining - SENDING_MARGIN_MS;
  const report = await reconcileAndTell(deskDeps, notifier, now(), deadlineMs);
  log("INFO", "reconcile pass done", {
    settled: report.settled.length,
    pending: report.pending,
    overdue: report.overdue,
    undecided: report.undecided,
    deferred: report.deferred,
    stale: report.stale.length,
    alertsSent: report.alertsSent,
    alertsUndelivered: report.alertsUndelivered,
  });
  return {
    settled: report.settled.length,
    pending: report.pending,
    stale: report.stale.length,
    alerts: report.alertsSent,
  };
}

/** Every 15 minutes (EventBridge Scheduler): settle what can be settled, tell staff what they must know. */
export const handler = publishing(reconcilePass);
