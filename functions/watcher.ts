import { SNSClient } from "@aws-sdk/client-sns";
import * as v from "valibot";
import { billingClientFromConfig } from "../shared/billmgr/index.ts";
import { loadCatalogue } from "../shared/catalogue/index.ts";
import { readBillmgrConfig, readWatcherConfig } from "../shared/config.ts";
import { isIsoDate } from "../shared/dates.ts";
import { type NightReport, runNight } from "../shared/watcher/night.ts";
import type { Notifier } from "../shared/watcher/notifier.ts";
import { outboxNotifier } from "../shared/watcher/outbox-notifier.ts";
import { watcherSettings } from "../shared/watcher/settings.ts";
import { snsNotifier } from "../shared/watcher/sns-notifier.ts";
import { config } from "./lib/config.ts";
import { register } from "./lib/register.ts";

/**
 * EventBridge Scheduler passes `{"scheduledTime": "<aws.scheduler.scheduled-time>"}`: tonight is that
 * instant's UTC date, never the wall clock, so a retried or replayed invocation decides the same.
 * `{"date": "YYYY-MM-DD"}` runs a chosen night by hand.
 */
const WatcherEvent = v.union([
  v.object({ scheduledTime: v.pipe(v.string(), v.isoTimestamp("must be an ISO timestamp")) }),
  v.object({ date: v.pipe(v.string(), v.check(isIsoDate, "must be a YYYY-MM-DD date")) }),
]);

const watcher = readWatcherConfig();

function notifier(): Notifier {
  if (watcher.ALERT_TOPIC_ARN) return snsNotifier(new SNSClient({}), watcher.ALERT_TOPIC_ARN);
  if (process.env.OUTBOX_FILE) return outboxNotifier(process.env.OUTBOX_FILE);
  throw new Error("no alert destination: set ALERT_TOPIC_ARN (SNS) or, locally, OUTBOX_FILE");
}

const deps = {
  billing: billingClientFromConfig(readBillmgrConfig()),
  register,
  catalogue: loadCatalogue(config.CATALOGUE_JSON),
  notifier: notifier(),
  settings: watcherSettings(watcher),

  // Renewal keys name one night; 30 days outlives any retry of it.
  idempotency: { ttlSeconds: 30 * 86_400, lockMs: config.IDEMPOTENCY_LOCK_SECONDS * 1000 },
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

export async function handler(event: unknown): Promise<WatcherResult> {
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
  const report = await runNight(deps, night, at);
  const { sent, expiringSoon, ...counts } = report;
  console.log(
    JSON.stringify({
      level: "INFO",
      message: "night done",
      night: report.night,
      renewed: report.renewed.length,
      failed: report.failed.length,
      alerts: sent.length,
      syncWrites: report.syncWrites,
    }),
  );
  return { ...counts, alertsSent: sent.length, expiringSoon: expiringSoon.length };
}
