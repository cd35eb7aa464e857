import type { IdempotencyRecord } from "../ports/intent-store.ts";
import { changeProductCall } from "./change-product.ts";
import type { DeskContext } from "./context.ts";
import type { ChangeProductInput, OrderInput, RenewInput, SuccessorInput } from "./inputs.ts";
import { orderCall } from "./order.ts";
import { type MoneyCall, type MoneyResult, settleRecorded } from "./outcome-model.ts";
import { renewCall } from "./renew.ts";
import { successorCall } from "./successor.ts";

/** Whether the intent's call orders a licence (an order, or a successor's), rather than renewing one. */
export const placesLicence = (operation: string): boolean =>
  operation === "order" || operation === "successor";

/** The money call an intent's stored request names, rebuilt to be settled (never sent). */
export function callOf(ctx: DeskContext, record: IdempotencyRecord): MoneyCall {
  const request = record.request as
    | { operation: "order"; body: OrderInput }
    | { operation: "renew"; id: string; body: RenewInput }
    | { operation: "successor"; id: string; body: SuccessorInput }
    | { operation: "change-product"; id: string; body: ChangeProductInput }
    | undefined;
  if (request?.operation === "order") return orderCall(ctx, request.body, record.key);
  if (request?.operation === "renew") return renewCall(ctx, request.id, request.body, record.key);
  if (request?.operation === "successor") return successorCall(ctx, request.id, request.body, record.key);
  if (request?.operation === "change-product")
    return changeProductCall(ctx, request.id, request.body, record.key);
  throw new Error(`intent ${record.key}: unknown operation ${record.operation}`);
}

/**
 * Settles an intent listed earlier (the reconciler's pass, the watcher's open renewals), as its
 * client's retry would, except that nothing is ever sent: undefined when its record is gone or
 * nothing was sent under it.
 */
export function settleIntent(ctx: DeskContext, record: IdempotencyRecord): Promise<MoneyResult | undefined> {
  const { intent, operation } = callOf(ctx, record);
  return settleRecorded(intent, operation);
}
