import { toIsoDate } from "../dates.ts";
import type { IdempotencyRecord } from "../register/types.ts";
import type { Alert } from "../watcher/alerts.ts";
import type { DeskDeps } from "./context.ts";
import { OutcomePendingError } from "./errors.ts";
import type { MoneyResult } from "./intent.ts";
import { licenceDesk } from "./service.ts";
import { orderSettled } from "./settled-alerts.ts";

export interface ReconcilerOptions {
  /** Intents read per pass (oldest first). */
  limit: number;
  /** An outcome still unknown this long after it was sent is raised with staff. */
  staleAfterMs: number;
}

export const RECONCILER_DEFAULTS: ReconcilerOptions = { limit: 200, staleAfterMs: 24 * 3600_000 };

export interface SettledIntent {
  client: string;
  key: string;
  operation: string;
  outcome: "applied" | "not_applied";
  /** The order's new licence, or the renewed one. */
  licenceId: string | undefined;
  statusCode: number;
}

export interface ReconcileReport {
  settled: SettledIntent[];
  /** Still inside their settle window, or undecided by the evidence. */
  pending: number;
  /** Of those pending, the ones past their settle window: the evidence could not decide them. */
  overdue: number;
  /** Unknown for longer than `staleAfterMs`: staff must look. */
  stale: Array<{ client: string; key: string; operation: string; sentAt: string }>;
  /** Alerts this pass raised (placed orders, stale outcomes); the caller sends them once. */
  alerts: Alert[];
}

/**
 * Settles unknown money outcomes without waiting for their clients: every unresolved intent whose
 * settle window has passed is decided on evidence, exactly as a retry with its key would (the same
 * code, so both always give the same answer, and nothing is ever sent again). Runs every 15 minutes in
 * AWS, inside `npm start` locally, and at the start of each watcher night.
 */
export async function reconcileUnresolved(
  deps: DeskDeps,
  at: Date,
  options: ReconcilerOptions = RECONCILER_DEFAULTS,
): Promise<ReconcileReport> {
  const report: ReconcileReport = { settled: [], pending: 0, overdue: 0, stale: [], alerts: [] };
  const records = await deps.register.idempotency.unresolved(options.limit);
  const nowMs = deps.nowMs ?? Date.now;
  for (const record of records) {
    const desk = licenceDesk(deps, { client: record.scope, now: at });
    try {
      // Listed a moment ago: settled on its record as it is now, never sent (refused and freed meanwhile: gone).
      const result = await desk.settle(record);
      if (result === undefined) continue;
      const settled = settledFrom(record, result);
      report.settled.push(settled);
      // Recorded as pending by the order itself when it settled; listed here so this pass sends it.
      if (settled.operation === "order" && settled.outcome === "applied" && settled.licenceId)
        report.alerts.push(orderSettled({ scope: settled.client, key: settled.key }, settled.licenceId, at));
    } catch (error) {
      report.pending++;
      const age = nowMs() - (record.sentAt ?? nowMs());
      if (record.sentAt !== undefined && age >= deps.idempotency.settleMs) report.overdue++;
      if (age >= options.staleAfterMs) {
        const stale = {
          client: record.scope,
          key: record.key,
          operation: record.operation,
          sentAt: new Date(record.sentAt ?? 0).toISOString(),
        };
        report.stale.push(stale);
        report.alerts.push(outcomeStale(stale, record, error, at));
      }
    }
  }
  return report;
}

function settledFrom(record: IdempotencyRecord, result: MoneyResult): SettledIntent {
  const body = result.body as { id?: string } | undefined;
  const request = record.request as { id?: string };
  return {
    client: record.scope,
    key: record.key,
    operation: record.operation,
    outcome: result.statusCode < 300 ? "applied" : "not_applied",
    licenceId: body?.id ?? request?.id,
    statusCode: result.statusCode,
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
  const request = record.request as { id?: string; body?: Record<string, unknown> };
  const what =
    record.operation === "renew"
      ? `renewal of licence ${request?.id} (${String(request?.body?.period)} months)`
      : `order of ${String(request?.body?.product)} for ${String(request?.body?.name)} on ${String(request?.body?.ip)}`;
  return {
    kind: "outcome_stale",
    severity: "critical",
    title: `[licence desk] Money outcome unknown for over a day: ${record.operation} ${stale.key}`.slice(
      0,
      99,
    ),
    body: [
      `The ${what} was sent to the vendor at ${stale.sentAt} and its outcome is still unknown.`,
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
