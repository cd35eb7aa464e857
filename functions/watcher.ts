import * as v from "valibot";
import { finishReserveMs, readBillmgrConfig, readWatcherConfig, watcherSettings } from "../shared/config.ts";
import { isIsoDate } from "../shared/domain/dates.ts";
import { formsLeftOf, type NightReport, runNight } from "../shared/domain/night/night.ts";
import { log } from "../shared/log.ts";
import { deskDeps } from "./lib/desk.ts";
import { nightFigures } from "./lib/figures.ts";
import { publishing } from "./lib/metrics.ts";
import { alertNotifier } from "./lib/notifier.ts";
import { reconcileAndTell } from "./lib/reconcile.ts";

/**
 * EventBridge Scheduler passes `{"scheduledTime": "<aws.scheduler.scheduled-time>"}`: tonight is that
 * instant's UTC date, never the wall clock, so a retried or replayed invocation decides the same.
 * `{"date": "YYYY-MM-DD"}` runs a chosen night by hand.
 */
const WatcherEvent = v.union([
  v.object({
    scheduledTime: v.pipe(v.string(), v.isoTimestamp("must be an ISO timestamp")),
    /** The continuation schedule's: carry on a night a run left unfinished, or do nothing. */
    continuation: v.optional(v.literal(true)),
  }),
  v.object({ date: v.pipe(v.string(), v.check(isIsoDate, "must be a YYYY-MM-DD date")) }),
]);

/** What Lambda passes beside the event: only the time the invocation has left is read. */
interface InvocationContext {
  getRemainingTimeInMillis?: () => number;
}

const watcher = readWatcherConfig();

const notifier = alertNotifier(watcher.ALERT_TOPIC_ARN);
const deps = {
  ...deskDeps,
  notifier,
  settings: { ...watcherSettings(watcher), finishReserveMs: finishReserveMs(readBillmgrConfig()) },
  // Unknown money outcomes are settled (and told) before the night decides anything.
  reconcile: async (at: Date) => {
    await reconcileAndTell(deskDeps, notifier, at);
  },
};

/** The calendar date of an instant in a time zone (en-CA formats it YYYY-MM-DD). */
function dateIn(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(at);
}

export type WatcherResult = Omit<NightReport, "sent" | "expiringSoon"> & {
  alertsSent: number;
  expiringSoon: number;
};

/** A continuation that found its night finished: nothing was read or sent. */
export interface NightAlreadyDone {
  night: string;
  continuation: "nothing left";
}

/** The night's run, from a handler's answer to an event that always runs one (`{"date": ...}`). */
export function ranNight(result: WatcherResult | NightAlreadyDone): WatcherResult {
  if ("continuation" in result) throw new Error(`night ${result.night}: not run (${result.continuation})`);
  return result;
}

export const handler = publishing(
  async (event: unknown, context?: InvocationContext): Promise<WatcherResult | NightAlreadyDone> => {
    const parsed = v.safeParse(WatcherEvent, event);
    if (!parsed.success) {
      throw new Error(
        `watcher event must be {"scheduledTime": ISO} or {"date": "YYYY-MM-DD"}: ${parsed.issues[0]?.message}`,
      );
    }
    const at =
      "date" in parsed.output
        ? new Date(`${parsed.output.date}T02:00:00Z`)
        : new Date(parsed.output.scheduledTime);
    const night = "date" in parsed.output ? parsed.output.date : dateIn(at, watcher.SCHEDULE_TIMEZONE);
    // A continuation carries on only a night a run has begun and left forms to read: one read of the
    // night's record otherwise. (A night not begun yet is the nightly schedule's and its retries'.)
    if ("continuation" in parsed.output && parsed.output.continuation) {
      const formsLeft = await formsLeftOf(deps, night);
      if (!formsLeft) {
        log("INFO", "continuation: nothing left of the night", { night, formsLeft: formsLeft ?? null });
        return { night, continuation: "nothing left" };
      }
    }
    const remaining = context?.getRemainingTimeInMillis;
    const report = await runNight(
      remaining ? { ...deps, remainingMs: () => remaining.call(context) } : deps,
      night,
      at,
    );
    nightFigures(report, deps.settings.expiringSoonDays);
    const { sent, expiringSoon, ...counts } = report;
    log("INFO", "night done", {
      night: report.night,
      renewed: report.renewed.length,
      failed: report.failed.length,
      alerts: sent.length,
      syncWrites: report.syncWrites,
      // The night as the register counts it, over every run of it so far.
      tonight: report.tonight,
      summaryDeferred: report.summaryDeferred,
      forms: report.forms,
    });
    return { ...counts, alertsSent: sent.length, expiringSoon: expiringSoon.length };
  },
);
