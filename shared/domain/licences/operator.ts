import type { IdempotencyRecord, MoneyAnswer } from "../ports/intent-store.ts";
import { type DeskContext, type DeskDeps, deskContext } from "./context.ts";
import { ForbiddenError, NotFoundError, ValidationError } from "./errors.ts";
import { notApplied, settleByOperator } from "./outcome-model.ts";
import { retried } from "./retried.ts";
import { callOf, placesLicence } from "./settle.ts";

/**
 * What operators do about money calls the evidence cannot decide: list them, and settle each one by
 * hand from the vendor's panel. Only the clients named in OPERATOR_CLIENTS may; every settlement is
 * audited with who and why, and the call's own client is answered from it on its next retry.
 */

export type OutcomeState = "undecided" | "unresolved";

/** One open money call, as an operator reads it. */
export interface OpenOutcome {
  client: string;
  key: string;
  operation: string;
  /** The renewed licence (a renewal); an order names none until it is settled. */
  licenceId: string | undefined;
  request: unknown;
  /** ISO instant the call was sent. */
  sentAt: string | undefined;
  /** undecided: a person must settle it; unknown: the evidence may still decide; applied: answered OK, its answer not kept yet. */
  state: "undecided" | "unknown" | "applied";
  /** Why the evidence cannot decide it, and since when (ISO). */
  reason: string | undefined;
  undecidedSince: string | undefined;
}

export interface Verdict {
  /** The client whose call it is (its Idempotency-Key is theirs alone). */
  client: string;
  key: string;
  outcome: "applied" | "not_applied";
  reason: string;
  /** For an order settled as applied: the licence it placed. */
  licenceId?: string | undefined;
}

export interface SettledOutcome {
  client: string;
  key: string;
  operation: string;
  outcome: "applied" | "not_applied";
  /** The call's final answer, as its client's next retry with the key receives it. */
  answer: MoneyAnswer;
}

export function checkOperator(operators: readonly string[], client: string): void {
  if (!operators.includes(client)) throw new ForbiddenError(client);
}

/** The open money calls, oldest looked-at first: those a person must settle, or every one still open. */
export async function openOutcomes(
  deps: Pick<DeskDeps, "register">,
  operators: readonly string[],
  operator: string,
  state: OutcomeState,
): Promise<OpenOutcome[]> {
  checkOperator(operators, operator);
  const records = await deps.register.idempotency.unresolved(1000);
  return records
    .filter((record) => state === "unresolved" || record.undecided !== undefined)
    .map(openOutcome)
    .sort((a, b) => (a.sentAt ?? "").localeCompare(b.sentAt ?? ""));
}

function openOutcome(record: IdempotencyRecord): OpenOutcome {
  const request = record.request as { id?: string } | undefined;
  return {
    client: record.scope,
    key: record.key,
    operation: record.operation,
    licenceId: request?.id,
    request: record.request,
    sentAt: record.sentAt === undefined ? undefined : new Date(record.sentAt).toISOString(),
    state: record.undecided ? "undecided" : record.status === "applied" ? "applied" : "unknown",
    reason: record.undecided?.reason,
    undecidedSince:
      record.undecided === undefined ? undefined : new Date(record.undecided.since).toISOString(),
  };
}

/**
 * An operator settles one open money call: applied (the vendor charged it; an order names the licence
 * it placed) or not applied (nothing was charged). Audited under the operator's name with their
 * reason; the call's hold (its licence, its IP's order slot) is freed once the answer is kept.
 */
export async function settleOutcome(
  deps: DeskDeps,
  operators: readonly string[],
  operator: { client: string; now: Date; deadlineMs?: number | undefined },
  verdict: Verdict,
): Promise<SettledOutcome> {
  checkOperator(operators, operator.client);
  // The call runs as its own client's, so its key and its answer are theirs; its vendor reads keep
  // to the operator's request deadline.
  const ctx = deskContext(deps, {
    client: verdict.client,
    now: operator.now,
    deadlineMs: operator.deadlineMs,
  });
  const record = await deps.register.idempotency.find(verdict.client, verdict.key);
  if (!record) throw new NotFoundError(`money call ${verdict.key} of client "${verdict.client}"`);
  // A renewal's licence is its request's: a licence id given with it would be recorded as a fact it is not.
  if (!placesLicence(record.operation) && verdict.licenceId !== undefined)
    throw new ValidationError({
      licenceId: `is only for an order settled as applied; this call is a renewal of licence ${(record.request as { id?: string } | undefined)?.id ?? "?"}`,
    });
  if (placesLicence(record.operation) && verdict.outcome === "applied")
    await checkOrdered(ctx, record, verdict);
  const { intent, operation } = callOf(ctx, record);
  const said = `settled by operator "${operator.client}" as ${verdict.outcome === "applied" ? "applied" : "not applied"}: ${verdict.reason}`;
  const result = await settleByOperator(intent, operation, {
    outcome: verdict.outcome,
    ...(verdict.licenceId !== undefined && { facts: { licenceId: verdict.licenceId } }),
    notApplied: notAppliedAnswer(record, said).refusal,
  });
  await audit(ctx, operator.client, record, verdict);
  return {
    client: verdict.client,
    key: verdict.key,
    operation: record.operation,
    outcome: verdict.outcome,
    answer: result,
  };
}

/** The answer a client gets for a call settled as not applied: nothing charged, a new key for a new try. */
function notAppliedAnswer(record: IdempotencyRecord, said: string) {
  return placesLicence(record.operation)
    ? notApplied(
        "order_not_placed",
        `the unanswered order was not placed and nothing was charged (${said}); order again with a new Idempotency-Key`,
      )
    : notApplied(
        "renewal_not_applied",
        `the unanswered renewal was not applied and nothing was charged (${said}); renew again with a new Idempotency-Key`,
      );
}

/** An order settled as applied names its licence, which must not be another order's. */
async function checkOrdered(ctx: DeskContext, record: IdempotencyRecord, verdict: Verdict): Promise<void> {
  if (verdict.licenceId === undefined)
    throw new ValidationError({
      licenceId: "is required to settle an order as applied: the licence it placed",
    });
  // Claimed for this order only once it is settled (the applied answer claims it), so a settlement
  // refused on its way leaves no claim behind.
  const owner = (await ctx.register.idempotency.licenceIdOwners([verdict.licenceId])).get(verdict.licenceId);
  if (owner && (owner.scope !== record.scope || owner.key !== record.key))
    throw new ValidationError({ licenceId: `licence ${verdict.licenceId} is another order's` });
}

async function audit(
  ctx: DeskContext,
  operator: string,
  record: IdempotencyRecord,
  verdict: Verdict,
): Promise<void> {
  const request = record.request as { id?: string } | undefined;
  await retried("audit the settlement", () =>
    ctx.register.audit.record({
      at: new Date(ctx.nowMs()).toISOString(),
      client: operator,
      operation: "settle-outcome",
      licenceId: request?.id ?? verdict.licenceId,
      params: {
        client: verdict.client,
        key: verdict.key,
        outcome: verdict.outcome,
        reason: verdict.reason,
        licenceId: verdict.licenceId ?? null,
      },
      outcome: "ok",
      error: undefined,
      durationMs: 0,
    }),
  ).catch(() => {});
}
