import { errorText, log } from "../../log.ts";
import { mapLimit } from "../map-limit.ts";
import { type AlertLedger, alertKeyText, type PendingAlert } from "../ports/alert-ledger.ts";
import type { Notifier } from "../ports/notifier.ts";
import { type Alert, type AlertKind, digest } from "./alerts.ts";

/** An alert's name in the ledger, `subject|kind|threshold`. */
export const ledgerText = (alert: Alert) =>
  alertKeyText({ subject: alert.ledger.subject, kind: alert.kind, threshold: alert.ledger.threshold });

/** A pending entry whose mail is built when it is sent (the night's summary), not when it is recorded. */
interface Composed {
  compose: "summary";
  night: string;
}

/** A recorded payload back to its alert (JSON has no undefined: an alert about no licence gets it back). */
function parse(payload: string): Alert | Composed {
  const parsed = JSON.parse(payload) as Alert | Composed;
  return "compose" in parsed ? parsed : { ...parsed, licenceId: parsed.licenceId ?? undefined };
}

export function pendingOf(alert: Alert, payload: string = JSON.stringify(alert)): PendingAlert {
  return {
    subject: alert.ledger.subject,
    kind: alert.kind,
    threshold: alert.ledger.threshold,
    night: alert.night,
    payload,
  };
}

/** A summary to record: its mail is composed from the register when it is sent. */
export function composedLater(alert: Pick<Alert, "kind" | "night" | "ledger">): PendingAlert {
  const composed: Composed = { compose: "summary", night: alert.night };
  return pendingOf(alert as Alert, JSON.stringify(composed));
}

/**
 * Records alerts as pending, each (subject, kind, threshold) once: the send step sends them. Returns how
 * many were recorded already (pending or sent before).
 */
export async function recordAlerts(ledger: AlertLedger, alerts: readonly PendingAlert[]): Promise<number> {
  if (alerts.length === 0) return 0;
  const unique = new Set(alerts.map(alertKeyText)).size;
  return unique - (await ledger.record(alerts)).length;
}

export interface SendOptions {
  ledger: AlertLedger;
  notifier: Notifier;
  /** How long a run holds an alert it is sending against another run: longer than one send takes. */
  leaseMs: number;
  /** From this many pending alerts of one kind about single licences, they go out as one digest. */
  digestMin: number;
  /** Wall-clock ms, for the leases. */
  nowMs: () => number;
  /** Only these (`subject|kind|threshold`), when given. */
  only?: ReadonlySet<string>;
  /**
   * Builds a summary recorded with `composedLater`, carrying the night's `folded` reminders; undefined
   * while it cannot be told exactly yet.
   */
  compose?: (night: string, folded: readonly Alert[]) => Promise<Alert | undefined>;
  concurrency?: number;
}

export interface SendResult {
  /** The mails this call sent (a digest counts once). */
  sent: Alert[];
  /** Alerts whose mail could not be sent (a digest counts each it carries): they stay pending, for the next run. */
  undelivered: number;
  /** Summaries left pending because a renewal of their night is still in progress in another run. */
  deferred: number;
}

/**
 * Sends every pending alert (of this night or an older one), summaries last. Each alert is leased first,
 * so two runs never both send it; one found sent already (a run died between marking it sent and
 * dropping it) is dropped without sending. Many of one kind about single licences go out as one digest.
 */
export async function sendPending(options: SendOptions): Promise<SendResult> {
  const { ledger, notifier } = options;
  const result: SendResult = { sent: [], undelivered: 0, deferred: 0 };
  const pending = (await ledger.pending()).filter((p) => !options.only || options.only.has(alertKeyText(p)));
  const parsed = pending.map((entry) => ({ entry, payload: parse(entry.payload) }));

  const alerts = parsed.filter(
    (p): p is { entry: PendingAlert; payload: Alert } => !("compose" in p.payload),
  );
  const summaries = parsed.filter((p) => "compose" in p.payload);
  // Reminders ride in their night's summary when it goes out now; otherwise each goes alone.
  const summaryNights = new Set(summaries.map((p) => (p.payload as Composed).night));
  const folded = alerts.filter((a) => a.payload.foldable && summaryNights.has(a.payload.night));
  const rest = alerts.filter((a) => !folded.includes(a));

  const grouped = new Map<string, Array<{ entry: PendingAlert; payload: Alert }>>();
  for (const p of rest) {
    if (p.payload.group) grouped.set(p.payload.group.key, [...(grouped.get(p.payload.group.key) ?? []), p]);
  }
  const sentTogether = new Set<PendingAlert>();
  const together = async (group: Array<{ entry: PendingAlert; payload: Alert }>) => {
    for (const p of group) sentTogether.add(p.entry);
    await sendOne(
      group.map((p) => p.entry),
      (mine) => {
        const mails = group.filter((p) => mine.includes(p.entry)).map((p) => p.payload);
        return mails.length === 1 ? (mails[0] as Alert) : digest(mails);
      },
    );
  };
  // One product's news of one date, in one mail; then many of one kind about single licences, in one.
  for (const group of grouped.values()) if (group.length > 1) await together(group);
  const byKind = new Map<AlertKind, Array<{ entry: PendingAlert; payload: Alert }>>();
  for (const p of rest.filter((a) => a.payload.licenceId !== undefined && !sentTogether.has(a.entry))) {
    byKind.set(p.payload.kind, [...(byKind.get(p.payload.kind) ?? []), p]);
  }
  for (const group of byKind.values()) if (group.length >= options.digestMin) await together(group);
  for (const p of rest.filter((a) => !sentTogether.has(a.entry))) await sendOne([p.entry], () => p.payload);

  for (const p of summaries) {
    const night = (p.payload as Composed).night;
    const riders = folded.filter((a) => a.payload.night === night);
    const composed = options.compose
      ? await options.compose(
          night,
          riders.map((a) => a.payload),
        )
      : undefined;
    if (!composed) {
      result.deferred++;
      continue;
    }
    await sendOne([p.entry, ...riders.map((a) => a.entry)], (mine) => {
      if (mine.includes(p.entry)) return composed;
      // The summary went out already (a run died after sending it): its riders go as their own mails.
      const alone = riders.filter((a) => mine.includes(a.entry)).map((a) => a.payload);
      return alone.length === 1 ? (alone[0] as Alert) : digest(alone);
    });
  }
  return result;

  /** Leases these, then sends what is still to send as one mail, then marks it sent. */
  async function sendOne(entries: PendingAlert[], mail: (mine: PendingAlert[]) => Alert): Promise<void> {
    const now = options.nowMs();
    const until = now + options.leaseMs;
    const leased = await mapLimit(entries, options.concurrency ?? 16, (e) => ledger.lease(e, now, until));
    const mine = entries.filter((_, i) => leased[i]);
    if (mine.length === 0) return;
    const done = await ledger.sent(mine);
    const already = mine.filter((e) => done.has(alertKeyText(e)));
    if (already.length > 0) await ledger.markSent(already, new Date(options.nowMs()).toISOString());
    const toSend = mine.filter((e) => !done.has(alertKeyText(e)));
    if (toSend.length === 0) return;
    const alert = mail(toSend);
    try {
      await notifier.send(alert);
    } catch (error) {
      result.undelivered += toSend.length;
      // One line per mail, with every alert it carried: the stack's alarm counts these, and staff can
      // read what they have not been told.
      log("ERROR", "alert undelivered", {
        kind: alert.kind,
        night: alert.night,
        title: alert.title,
        alerts: toSend.length,
        entries: toSend.slice(0, 50).map(alertKeyText),
        reason: errorText(error),
        next: "left pending: the next run (or the next night) sends it again",
      });
      await mapLimit(toSend, options.concurrency ?? 16, (e) => ledger.unlease(e, until));
      return;
    }
    // Nothing may come between the send and this write. A process killed exactly here sends this one
    // mail again on the next run (SNS standard topics do not deduplicate): at least once at this one
    // point, never lost; everywhere else, exactly once.
    await ledger.markSent(toSend, new Date(options.nowMs()).toISOString());
    result.sent.push(alert);
  }
}
