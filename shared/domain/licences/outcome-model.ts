import { createHash } from "node:crypto";
import { METRIC, type MoneyOutcome, metrics } from "../../metrics.ts";
import {
  type IdempotencyRecord,
  type IdempotencyStore,
  type IntentRef,
  KeyContendedError,
  type MoneyAnswer,
  type Refusal,
} from "../ports/intent-store.ts";
import type { LicenceRecord } from "../ports/licence-store.ts";
import {
  IdempotencyKeyReusedError,
  NotFoundError,
  OutcomePendingError,
  OutcomeSettledError,
  OutcomeUnknownError,
  RequestInProgressError,
} from "./errors.ts";
import { failedCall } from "./failed-calls.ts";
import type { IdempotencySettings } from "./idempotency-settings.ts";
import { retried } from "./retried.ts";

/** What the vendor did, as evidence read after the settle window shows it. */
export type Evidence =
  | { kind: "applied"; facts: Record<string, string> }
  | { kind: "not_applied"; refusal: Refusal }
  /**
   * Not decidable now. `staff`: nor later by reading again (an expiry moved, but not to the expected
   * date; more than one candidate): a person must look, and settle it.
   */
  | { kind: "undecided"; reason: string; staff?: boolean; facts?: Record<string, string> };

/** A person's verdict on an undecided outcome (`POST /outcomes/{key}`), from the vendor's panel. */
export interface OperatorVerdict {
  outcome: "applied" | "not_applied";
  /** What the vendor did, where the answer needs it (an order's licence id). */
  facts?: Record<string, string>;
  /** Why, for a call settled as not applied (who settled it and their words, told to its client). */
  notApplied: Refusal;
}

/** A money-moving operation, in the phases the outcome model needs. */
export interface MoneyOperation {
  /**
   * Checks and reads before anything is sent; may throw (then nothing was sent and the key is freed).
   * Returns the evidence to keep and the call itself, which answers the facts of what the vendor did.
   */
  prepare(): Promise<Prepared>;
  /** The answer for an applied call. Must not fail for a register or read failure: the money moved. */
  applied(facts: Record<string, string>, context: Record<string, string>): Promise<LicenceRecord>;
  /** After the settle window: what the vendor's state says about the call. Never sends it again. */
  reconcile(context: Record<string, string>): Promise<Evidence>;
  /** The call provably did nothing (refused, never sent, or settled as not applied): free what it held. */
  released(context: Record<string, string> | undefined): Promise<void>;
  /** An unknown outcome the evidence settled as applied, before its answer is kept (to tell staff). */
  settledApplied?(facts: Record<string, string>, context: Record<string, string>): Promise<void>;
  /** An applied call's answer is kept: free what it held (never before: until then the intent is open). */
  kept?(context: Record<string, string>): Promise<void>;
  /**
   * The evidence cannot decide, and reading again will not help: tell staff at once (recorded, so it
   * goes out once whoever finds it first). The intent stays open, holding what it holds.
   */
  undecided?(evidence: Extract<Evidence, { kind: "undecided" }>, record: IdempotencyRecord): Promise<void>;
}

/** What `prepare` readied: the evidence to keep, a last check, and the call. */
export interface Prepared {
  context: Record<string, string>;
  /**
   * Checked once the intent is recorded as sent and before the call leaves, so that whatever it reads
   * (a switch turned off, a mark set) cannot change unseen between the check and the send: a change
   * after the record is a change after the send. Throwing here sends nothing and frees the key.
   */
  confirm?: () => Promise<void>;
  send: () => Promise<Record<string, string>>;
}

export interface MoneyIntent {
  /** `order` or `renew`, for messages. */
  operation: string;
  store: IdempotencyStore;
  settings: IdempotencySettings;
  ref: IntentRef;
  /** The canonical request: the same key with another request is refused; the reconciler rebuilds from it. */
  request: unknown;
  /** Wall-clock ms: locks and settle windows run on the real clock, whatever night is replayed. */
  nowMs: () => number;
}

export type MoneyResult = MoneyAnswer & { replayed: boolean };

/** One money call under one key: its intent and its operation, to run (`runMoneyIntent`) or settle (`settleRecorded`). */
export interface MoneyCall {
  intent: MoneyIntent;
  operation: MoneyOperation;
}

/** How long a reconcile holds an unresolved intent against another reconciler. */
const LEASE_MS = 30_000;
/** When the evidence cannot decide (the vendor unreadable, an expiry nobody expected): ask again in. */
const UNDECIDED_RETRY_SECONDS = 60;

/**
 * The final answer of an unknown outcome that the evidence settled as not applied: its stable
 * code, and the one place "use a new key" is said.
 */
export function notApplied(
  code: string,
  message: string,
  details: Record<string, unknown> = {},
): Extract<Evidence, { kind: "not_applied" }> {
  return { kind: "not_applied", refusal: { code, message, details: { outcome: "not_applied", ...details } } };
}

export function requestHash(request: unknown): string {
  return createHash("sha256").update(JSON.stringify(request)).digest("hex");
}

/**
 * The outcome model of every money call, API or watcher. Each call ends applied (the vendor answered
 * OK: nothing afterwards can undo that or free its key), refused (the vendor's error, or provably never
 * sent: the key is freed) or unknown. An unknown one stays pending for the settle window, then is
 * decided on evidence, by a retry with the same key or by the scheduled reconciler; undecidable
 * evidence keeps it pending. It is never sent twice.
 */
export async function runMoneyIntent(intent: MoneyIntent, operation: MoneyOperation): Promise<MoneyResult> {
  const { store, ref, settings } = intent;
  const hash = requestHash(intent.request);
  const now = intent.nowMs();
  const claim = await store
    .claim(
      {
        ...ref,
        requestHash: hash,
        operation: intent.operation,
        request: intent.request,
        lockedUntil: now + settings.lockMs,
        expiresAt: Math.floor(now / 1000) + settings.ttlSeconds,
      },
      now,
    )
    .catch((error: unknown) => {
      // Same-key requests claiming and freeing it around this one: nothing was claimed or sent.
      throw error instanceof KeyContendedError ? new RequestInProgressError(1) : error;
    });
  if (claim.claimed)
    return { ...(await sendOnce(intent, operation, now + settings.lockMs)), replayed: false };
  if (claim.existing.requestHash !== hash) throw new IdempotencyKeyReusedError();
  return resumeIntent(intent, operation, claim.existing);
}

/**
 * A repeat of a claimed key by its own client: whatever the record's state calls for. A claim whose
 * holder died before sending is taken over and sent by the first repeat to take it (it is this
 * client's own request); anything sent is settled, never sent again.
 */
export async function resumeIntent(
  intent: MoneyIntent,
  operation: MoneyOperation,
  record: IdempotencyRecord,
): Promise<MoneyResult> {
  const { store, ref, settings } = intent;
  const now = intent.nowMs();
  if (record.status === "in_progress" && record.sentAt === undefined) {
    if (record.lockedUntil > now) throw new RequestInProgressError(secondsUntil(record.lockedUntil, now));
    // Its holder died before sending: nothing left, so the first to take it over runs it now.
    if (await store.takeOver(ref.scope, ref.key, now, now + settings.lockMs))
      return { ...(await sendOnce(intent, operation, now + settings.lockMs)), replayed: false };
    throw new RequestInProgressError(1);
  }
  return settleSent(intent, operation, record);
}

/**
 * The reconciler's and the watcher's way to an open intent, which they found on a list read earlier:
 * it settles what the record, read again now, says was sent, and never sends. Undefined when there is
 * nothing of theirs to settle: the record is gone (refused and freed, or expired) or nothing was sent
 * under it yet (its holder is alive, or died before sending and its own client's retry takes it over).
 * A key whose record is gone is never claimed again here: only the client that owns an intent sends.
 */
export async function settleRecorded(
  intent: MoneyIntent,
  operation: MoneyOperation,
): Promise<MoneyResult | undefined> {
  const record = await intent.store.find(intent.ref.scope, intent.ref.key);
  if (!record || (record.status === "in_progress" && record.sentAt === undefined)) return undefined;
  return settleSent(intent, operation, record);
}

/** A record that was sent (or is final): replayed, finished or settled on evidence; never sent again. */
async function settleSent(
  intent: MoneyIntent,
  operation: MoneyOperation,
  record: IdempotencyRecord,
): Promise<MoneyResult> {
  const now = intent.nowMs();
  switch (record.status) {
    case "completed":
      if (record.response) return { ...record.response, replayed: true };
      break;
    case "applied":
      return { ...(await finishApplied(intent, operation, record.facts, record.context)), replayed: true };
    case "in_progress":
      // Sent, and its holder may still be waiting for the answer.
      if (record.lockedUntil > now) throw new RequestInProgressError(secondsUntil(record.lockedUntil, now));
      break; // died after sending: as unknown
  }
  try {
    return { ...(await settle(intent, operation, record)), replayed: true };
  } catch (error) {
    if (error instanceof OutcomePendingError) counted(intent, "pending");
    throw error;
  }
}

function counted(intent: MoneyIntent, outcome: MoneyOutcome): void {
  metrics().count(METRIC.moneyOutcome, { operation: intent.operation, outcome });
}

/** Runs a claimed intent; `lock` is the lock this holder wrote, so it only ever frees its own claim. */
async function sendOnce(intent: MoneyIntent, operation: MoneyOperation, lock: number): Promise<MoneyAnswer> {
  const { store, ref } = intent;
  let prepared: Prepared;
  try {
    prepared = await operation.prepare();
    await store.markSent(ref.scope, ref.key, prepared.context, intent.nowMs(), lock);
    await prepared.confirm?.();
  } catch (error) {
    await forget(intent, operation, undefined, lock);
    throw error;
  }
  let facts: Record<string, string>;
  try {
    facts = await prepared.send();
  } catch (error) {
    if (failedCall(error) !== "unknown") {
      counted(intent, "refused");
      await forget(intent, operation, prepared.context, lock);
      throw error;
    }
    counted(intent, "unknown");
    // If even this write fails, the record still says "sent" and is unknown once its lock passes.
    await retried("mark the intent unknown", () => store.markUnknown(ref.scope, ref.key)).catch(() => {});
    throw new OutcomeUnknownError(intent.operation, Math.ceil(intent.settings.settleMs / 1000), {
      cause: error,
    });
  }
  counted(intent, "applied");
  return finishApplied(intent, operation, facts, prepared.context);
}

/** Applied: record it first, then build and keep the answer; no failure from here on changes the outcome. */
async function finishApplied(
  intent: MoneyIntent,
  operation: MoneyOperation,
  facts: Record<string, string>,
  context: Record<string, string>,
): Promise<MoneyAnswer> {
  const { store, ref } = intent;
  await retried("mark the intent applied", () => store.markApplied(ref.scope, ref.key, facts)).catch(
    () => {},
  );
  const licence = await operation.applied(facts, context);
  const { answer: kept, kept: final } = await keep(intent, { outcome: "applied", licence });
  const { kept: free } = operation;
  // A failure here leaves a hold whose intent is completed: the next taker clears it as stale.
  if (final && free) await retried("free what the applied call held", () => free(context)).catch(() => {});
  return kept;
}

async function settle(
  intent: MoneyIntent,
  operation: MoneyOperation,
  record: IdempotencyRecord,
): Promise<MoneyAnswer> {
  const { store, ref, settings } = intent;
  const now = intent.nowMs();
  const settleAt = (record.sentAt ?? now) + settings.settleMs;
  if (now < settleAt) throw new OutcomePendingError(intent.operation, secondsUntil(settleAt, now));
  if (!(await store.lease(ref.scope, ref.key, now, now + LEASE_MS))) {
    // Another reconciler is deciding it right now; its answer will be kept.
    const again = await store.find(ref.scope, ref.key);
    if (again?.status === "completed" && again.response) return again.response;
    throw new OutcomePendingError(intent.operation, secondsUntil(again?.lockedUntil ?? now + LEASE_MS, now));
  }
  let evidence: Evidence;
  try {
    evidence = await operation.reconcile(record.context);
  } catch (error) {
    evidence = { kind: "undecided", reason: error instanceof Error ? error.message : String(error) };
  }
  switch (evidence.kind) {
    case "applied":
      // Staff hear of it before it is final, so a kill after the answer is kept never loses the news.
      try {
        await operation.settledApplied?.(evidence.facts, record.context);
      } catch {
        throw new OutcomePendingError(
          intent.operation,
          UNDECIDED_RETRY_SECONDS,
          "its settlement could not be recorded yet",
        );
      }
      counted(intent, "settled_applied");
      return finishApplied(intent, operation, evidence.facts, record.context);
    case "not_applied": {
      // Kept first, then freed: a kill in between must never leave the licence free while this intent
      // is still open (another renewal would then be read as this one's evidence).
      const { answer, kept } = await keep(intent, { outcome: "not_applied", refusal: evidence.refusal });
      counted(intent, "settled_not_applied");
      // Unkept, it stays open (listed for the reconciler), so it keeps what it holds.
      if (kept) await operation.released(record.context);
      return answer;
    }
    case "undecided":
      if (evidence.staff) {
        // Listed for operators (GET /outcomes) and told to staff; a failure here is retried next time.
        await store.markUndecided(ref.scope, ref.key, evidence.reason, now).catch(() => {});
        await operation.undecided?.(evidence, record).catch(() => {});
        // A person settles it now: the operator need not wait out the rest of this lease (a client
        // retrying every minute would otherwise hold it half the time). A vendor that could not be read
        // keeps its lease: the next read is for the next pass.
        await store.endLease(ref.scope, ref.key, now + LEASE_MS).catch(() => false);
        throw new OutcomePendingError(
          intent.operation,
          UNDECIDED_RETRY_SECONDS,
          `${evidence.reason}; staff have been alerted to settle it`,
        );
      }
      throw new OutcomePendingError(intent.operation, UNDECIDED_RETRY_SECONDS, evidence.reason);
  }
}

/**
 * An operator's verdict on an open outcome: applied (the vendor acted: its answer is built as if the
 * evidence had said so) or not applied (nothing was charged: its key is answered so, and what it held is
 * freed). Under the reconcile lease, so no reconciler decides it at the same moment; never sends
 * anything. An outcome the vendor confirmed (applied) can only be finished as applied.
 */
export async function settleByOperator(
  intent: MoneyIntent,
  operation: MoneyOperation,
  verdict: OperatorVerdict,
): Promise<MoneyResult> {
  const { store, ref } = intent;
  const now = intent.nowMs();
  const record = await store.find(ref.scope, ref.key);
  if (!record) throw new NotFoundError(`money call ${ref.key} of client "${ref.scope}"`);
  if (record.status === "completed") throw new OutcomeSettledError(ref.key, record.outcome);
  if (record.sentAt === undefined || (record.status === "in_progress" && record.lockedUntil > now))
    throw new RequestInProgressError(secondsUntil(Math.max(record.lockedUntil, now + 1000), now));
  if (record.status === "applied" && verdict.outcome !== "applied")
    throw new OutcomeSettledError(ref.key, "applied");
  if (!(await store.lease(ref.scope, ref.key, now, now + LEASE_MS)))
    throw new RequestInProgressError(LEASE_MS / 1000);
  if (verdict.outcome === "applied") {
    const facts = { ...record.facts, ...verdict.facts };
    if (record.status !== "applied") await operation.settledApplied?.(facts, record.context);
    counted(intent, "settled_applied");
    return { ...(await finishApplied(intent, operation, facts, record.context)), replayed: false };
  }
  const { answer, kept } = await keep(intent, { outcome: "not_applied", refusal: verdict.notApplied });
  counted(intent, "settled_not_applied");
  if (kept) await operation.released(record.context);
  return { ...answer, replayed: false };
}

/**
 * Keeps the final answer; the first one kept wins, so every repeat and every reconciler answers the same.
 * `kept` is false when it could not be written: the intent is still open.
 */
async function keep(
  intent: MoneyIntent,
  answer: MoneyAnswer,
): Promise<{ answer: MoneyAnswer; kept: boolean }> {
  const { store, ref, settings } = intent;
  const expiresAt = Math.floor(intent.nowMs() / 1000) + settings.ttlSeconds;
  try {
    const kept = await retried("keep the answer", () =>
      store.complete(ref.scope, ref.key, answer, expiresAt),
    );
    return { answer: kept.response ?? answer, kept: true };
  } catch {
    // Unkept, the record stays applied (or unknown) and the next repeat or reconciler builds it again.
    return { answer, kept: false };
  }
}

async function forget(
  intent: MoneyIntent,
  operation: MoneyOperation,
  context: Record<string, string> | undefined,
  lock: number,
): Promise<void> {
  // The key first, then what the operation held: killed in between, the hold is stale (its intent is
  // gone) and the next renewal takes it; the other way round, an open intent would lose its hold.
  const freed = await retried("free the key", () =>
    intent.store.release(intent.ref.scope, intent.ref.key, lock),
  );
  // Taken over meanwhile (this holder outlived its lock): what it holds now belongs to the new holder.
  if (freed) await operation.released(context);
}

function secondsUntil(atMs: number, nowMs: number): number {
  return Math.max(1, Math.ceil((atMs - nowMs) / 1000));
}
