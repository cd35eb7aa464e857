import { outcomeUndecided } from "../alerts/money-call-alerts.ts";
import { pendingOf } from "../alerts/send-pending.ts";
import type { IdempotencyRecord } from "../ports/intent-store.ts";
import type { DeskContext } from "./context.ts";
import type { Evidence } from "./outcome-model.ts";
import { retried } from "./retried.ts";

/** Records the undecided alert as pending: sent by the reconciler's pass or the night, whichever comes first. */
export async function tellUndecided(
  ctx: DeskContext,
  record: IdempotencyRecord,
  evidence: Extract<Evidence, { kind: "undecided" }>,
): Promise<void> {
  const alert = outcomeUndecided(record, evidence, ctx.caller.now);
  await retried("record the undecided outcome's alert", () => ctx.register.alerts.record([pendingOf(alert)]));
}
