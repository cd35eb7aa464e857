import { createHash } from "node:crypto";
import { BillmgrError, BillmgrVendorError } from "../billmgr/errors.ts";
import type { IdempotencyStore, StoredResponse } from "../register/types.ts";
import { IdempotencyKeyReusedError, OutcomeUnknownError, RequestInProgressError } from "./errors.ts";

export interface IdempotencySettings {
  /** How long a finished answer is kept (the table's TTL removes it later): at least 24 h. */
  ttlSeconds: number;
  /** How long the first request holds the key before it is presumed dead (past the Lambda timeout). */
  lockMs: number;
}

export interface MoneyCall {
  /** For messages and logs: `order`, `renew`. */
  operation: string;
  store: IdempotencyStore;
  settings: IdempotencySettings;
  scope: string;
  key: string;
  /** Canonical description of the request; the same key with another request is refused. */
  request: unknown;
  /** What reconciliation will need, captured before the money moves. */
  context: Record<string, string>;
  nowMs: number;
}

/** Set by the operation right before the money-moving call leaves: from then on nothing is forgotten. */
export interface SendGuard {
  sent: boolean;
}

export function requestHash(request: unknown): string {
  return createHash("sha256").update(JSON.stringify(request)).digest("hex");
}

/**
 * Runs a money-moving operation at most once per key.
 * - First request: claims the key (a conditional write), runs, stores the answer.
 * - Same key, same request: the stored answer; while the first still runs, RequestInProgressError.
 * - Same key, other request: IdempotencyKeyReusedError.
 * - When the vendor's outcome is unknown (or the first request died), a retry runs `reconcile`,
 *   which looks at the vendor's state and never sends the money call again.
 * - When the operation provably did nothing (refused before or by the vendor), the key is released.
 */
export async function onceOnly(
  call: MoneyCall,
  run: (guard: SendGuard) => Promise<StoredResponse>,
  reconcile: (context: Record<string, string>) => Promise<StoredResponse>,
): Promise<StoredResponse & { replayed: boolean }> {
  const { store, scope, key } = call;
  const hash = requestHash(call.request);
  const claim = await store.claim(
    {
      scope,
      key,
      requestHash: hash,
      context: call.context,
      lockedUntil: call.nowMs + call.settings.lockMs,
      expiresAt: Math.floor(call.nowMs / 1000) + call.settings.ttlSeconds,
    },
    call.nowMs,
  );

  if (!claim.claimed) {
    const { existing } = claim;
    if (existing.requestHash !== hash) throw new IdempotencyKeyReusedError();
    if (existing.status === "completed" && existing.response) return { ...existing.response, replayed: true };
    if (existing.status === "in_progress" && existing.lockedUntil > call.nowMs)
      throw new RequestInProgressError();
    const response = await reconcile(existing.context);
    await store.complete(scope, key, response);
    return { ...response, replayed: true };
  }

  const guard: SendGuard = { sent: false };
  try {
    const response = await run(guard);
    await store.complete(scope, key, response);
    return { ...response, replayed: false };
  } catch (error) {
    if (!guard.sent || provablyNotApplied(error)) {
      await store.release(scope, key);
      throw error;
    }
    // Sent, and then something failed: the vendor may have acted. Keep the key for reconciliation.
    await store.markUnknown(scope, key);
    throw error instanceof OutcomeUnknownError
      ? error
      : new OutcomeUnknownError(call.operation, { cause: error });
  }
}

function provablyNotApplied(error: unknown): boolean {
  return (
    error instanceof BillmgrVendorError || (error instanceof BillmgrError && error.outcome === "not_applied")
  );
}
