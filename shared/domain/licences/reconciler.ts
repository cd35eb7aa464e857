import type { Alert } from "../alerts/alerts.ts";
import { orderSettled, requestedCall } from "../alerts/money-call-alerts.ts";
import { pendingOf } from "../alerts/send-pending.ts";
import { toIsoDate } from "../dates.ts";
import type { IdempotencyRecord } from "../ports/intent-store.ts";
import type { DeskDeps } from "./context.ts";
import { licenceDesk } from "./desk.ts";
import { OutcomePendingError } from "./errors.ts";
import type { MoneyResult } from "./outcome-model.ts";
import { retried } from "./retried.ts";
import { placesLicence } from "./settle.ts";

export interface ReconcilerOptions {
  /** Intents read per pass (the least recently looked at first: one that cannot be decided goes to the back). */
  limit: number;
  /** An outcome still unknown this long after it was sent is raised with staff. */
  staleAfterMs: number;
  /**
   * Epoch ms (the real time, `Date.now`: a Lambda's time left is never on the desk's movable clock) by
   * which the pass stops taking intents, so it ends (and its report is written) before its Lambda is
   * stopped. What it did not reach, the next pass reaches first.
   */
  deadlineMs?: number;
}

export const RECONCILER_DEFAULTS: ReconcilerOptions = { limit: 200, staleAfterMs: 24 * 3600_000 };

export interface SettledIntent {
  client: string;
  key: string;
  operation: string;
  outcome: "applied" | "not_applied";
  /** The order's new licence, or the renewed one. */
  licenceId: string | undefined;
  /** Why not, for one settled as not applied. */
  code?: string;
}

export interface ReconcileReport {
  settled: SettledIntent[];
  /** Still inside their settle window, or undecided by the evidence. */
  pending: number;
  /** Of those pending, the ones past their settle window: the evidence could not decide them. */
  overdue: number;
  /** Of those, the ones a person must settle (`GET /outcomes?state=undecided`). */
  undecided: number;
  /** Unknown for longer than `staleAfterMs`: staff must look. */
  stale: Array<{ client: string; key: string; operation: string; sentAt: string }>;
  /** Listed, but left for the next pass: the pass's time ran out first. */
  deferred: number;
  /**
   * Alerts this pass raised (placed orders, stale outcomes), each already recorded in the ledger as it
   * was decided (a pass cut short loses none); the caller sends them.
   */
  alerts: Alert[];
}

/**
 * Settles unknown money outcomes without waiting for their clients: every unresolved intent whose
 * settle window has passed is decided on evidence, as a retry with its key would, except that nothing
 * is ever sent (a key whose record is gone is left alone: `settleIntent`). Runs every 15 minutes in AWS,
 * inside `npm start` locally, and at the start of each watcher night.
 */
export async function reconcileUnresolved(
  deps: DeskDeps,
  at: Date,
  options: ReconcilerOptions = RECONCILER_DEFAULTS,
): Promise<ReconcileReport> {
  const report: ReconcileReport = {
    settled: [],
    pending: 0,
    overdue: 0,
    undecided: 0,
    stale: [],
    deferred: 0,
    alerts: [],
  };
  const records = await deps.register.idempotency.unresolved(options.limit);
  const nowMs = deps.nowMs ?? Date.now;
  /** Recorded as pending at once, so a pass killed after this point still leaves it to send. */
  const raise = async (alert: Alert) => {
    await retried("record the reconciler's alert", () => deps.register.alerts.record([pendingOf(alert)]));
    report.alerts.push(alert);
  };
  for (const [index, record] of records.entries()) {
    if (options.deadlineMs !== undefined && Date.now() >= options.deadlineMs) {
      report.deferred = records.length - index;
      break;
    }
    const desk = licenceDesk(deps, { client: record.scope, now: at });
    try {
      // Listed a moment ago: settled on its record as it is now, never sent (refused and freed meanwhile: gone).
      const result = await desk.settle(record);
      if (result === undefined) continue;
      const settled = settledFrom(record, result);
      report.settled.push(settled);
      // Recorded as pending by the order itself when it settled; listed here so this pass sends it.
      if (placesLicence(settled.operation) && settled.outcome === "applied" && settled.licenceId)
        report.alerts.push(orderSettled({ scope: settled.client, key: settled.key }, settled.licenceId, at));
    } catch (error) {
      report.pending++;
      const age = nowMs() - (record.sentAt ?? nowMs());
      if (record.sentAt !== undefined && age >= deps.idempotency.settleMs) report.overdue++;
      // An undecided one has told staff already (its own alert, with the call that settles it).
      const again = await deps.register.idempotency.find(record.scope, record.key).catch(() => undefined);
      if (again?.undecided) {
        report.undecided++;
        continue;
      }
      if (age >= options.staleAfterMs) {
        const stale = {
          client: record.scope,
          key: record.key,
          operation: record.operation,
          sentAt: new Date(record.sentAt ?? 0).toISOString(),
        };
        report.stale.push(stale);
        await raise(outcomeStale(stale, record, error, at)).catch(() => {});
      }
    }
  }
  return report;
}

function settledFrom(record: IdempotencyRecord, result: MoneyResult): SettledIntent {
  const request = record.request as { id?: string } | undefined;
  return {
    client: record.scope,
    key: record.key,
    operation: record.operation,
    outcome: result.outcome,
    licenceId: result.outcome === "applied" ? result.licence.id : request?.id,
    ...(result.outcome === "not_applied" && { code: result.refusal.code }),
  };
}

function outcomeStale(
  stale: ReconcileReport["stale"][number],
  record: IdempotencyRecord,
  error: unknown,
  at: Date,
): Alert {
  const why =
    error instanceof OutcomePendingError
      ? error.message
      : error instanceof Error
        ? error.message
        : String(error);
  const request = record.request as { id?: string };
  return {
    kind: "outcome_stale",
    severity: "critical",
    title: `[licence desk] Money outcome unknown for over a day: ${record.operation} ${stale.key}`.slice(
      0,
      99,
    ),
    body: [
      `The ${requestedCall(record)} was sent to the vendor at ${stale.sentAt} and its outcome is still unknown.`,
      `Last check: ${why}`,
      "",
      `API client: "${stale.client}", Idempotency-Key ${stale.key}.`,
      "What to do: look the licence up in the vendor's panel. The desk keeps checking every 15 minutes and",
      "never sends this call again; do not renew or order it again by hand until the panel shows what happened.",
    ].join("\n"),
    licenceId: request?.id,
    night: toIsoDate(at),
    ledger: { subject: `intent:${stale.client}:${stale.key}`, threshold: "stale" },
  };
}
