import { sendPending } from "../../alerts/send-pending.ts";
import type { NightRun } from "./run.ts";
import { composeSummary, nightCounts } from "./summary.ts";

/**
 * Sends every alert still pending (tonight's, and any an earlier run left: killed before sending, or
 * refused by the topic), summaries last; then reads the night's counts back from the register.
 */
export async function sendPhase(run: NightRun): Promise<void> {
  const { deps, report } = run;
  const result = await sendPending({
    ledger: deps.register.alerts,
    notifier: deps.notifier,
    leaseMs: deps.settings.sendLeaseMs,
    digestMin: deps.settings.digestMin,
    nowMs: run.nowMs,
    concurrency: deps.settings.registerConcurrency,
    compose: (night, folded) => composeSummary(deps, night, run.nowMs(), folded),
  });
  report.sent.push(...result.sent);
  report.undelivered += result.undelivered;
  report.summaryDeferred = result.deferred > 0;
  report.tonight = nightCounts(await deps.register.nights.read(run.night));
}
