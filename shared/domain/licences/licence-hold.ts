import { randomBytes } from "node:crypto";
import type { IntentRef } from "../ports/intent-store.ts";
import type { DeskContext } from "./context.ts";
import { RenewalInFlightError, RenewalNotWantedError } from "./errors.ts";

/**
 * One licence, one holder at a time, for what must not interleave at the vendor: a renewal (money) and a
 * suspend through the desk. A renewal of a lapsed licence reactivates it at the vendor; a suspend landing
 * while that renewal is on its way would be undone by it, the register saying "suspended" and the vendor
 * "active". The hold is the register's `RENEWING#<id>` item.
 *
 * A suspend holds it under this scope, its key the epoch ms its hold ends (and a random tag): it needs no intent record,
 * and a suspend that died mid-way stops holding the licence when that time has passed.
 */
const SUSPEND_SCOPE = "desk:suspend";

async function isStale(ctx: DeskContext, owner: IntentRef): Promise<boolean> {
  if (owner.scope === SUSPEND_SCOPE) return Number(owner.key.split(":")[0]) < ctx.nowMs();
  return intentIsOver(ctx, owner);
}

/**
 * Whether a hold's intent holds nothing any more: its record is gone (refused, freed), completed, or
 * its holder died before sending. A hold of an intent that was sent stays until its outcome is known.
 */
export async function intentIsOver(ctx: DeskContext, owner: IntentRef): Promise<boolean> {
  const other = await ctx.register.idempotency.find(owner.scope, owner.key);
  return (
    !other ||
    other.status === "completed" ||
    (other.status === "in_progress" && other.sentAt === undefined && other.lockedUntil < ctx.nowMs())
  );
}

/**
 * Takes the licence for `ref`: true when held. One held by a renewal still running or awaiting its
 * outcome refuses with `RenewalInFlightError`; one held by a suspend in progress gives `bySuspend`'s
 * answer (an error to throw, or false: go on without the hold). A holder that is done, or dead before
 * sending, is cleared first.
 */
async function take(
  ctx: DeskContext,
  id: string,
  ref: IntentRef,
  bySuspend: () => Error | false,
  doing: "renew" | "suspend" | "change-product",
): Promise<boolean> {
  const store = ctx.register.idempotency;
  for (let attempt = 0; attempt < 2; attempt++) {
    const hold = await store.holdLicence(id, ref);
    if (hold.held) return true;
    if (!(await isStale(ctx, hold.owner))) {
      if (hold.owner.scope !== SUSPEND_SCOPE) throw new RenewalInFlightError(id, doing);
      const answer = bySuspend();
      if (answer === false) return false;
      throw answer;
    }
    await store.freeLicence(id, hold.owner);
  }
  throw new RenewalInFlightError(id, doing);
}

/** A renewal's hold; freed when its outcome is known (see renew.ts). */
export async function holdForRenewal(ctx: DeskContext, id: string, ref: IntentRef): Promise<void> {
  await take(
    ctx,
    id,
    ref,
    () => new RenewalNotWantedError(id, "it is being suspended through the desk", "being_suspended"),
    "renew",
  );
}

/**
 * A change of product's hold, as a renewal's: one money call of a licence at a time, so neither's
 * evidence (the expiry, the pricelist) is read while the other may move it.
 */
export async function holdForProductChange(ctx: DeskContext, id: string, ref: IntentRef): Promise<void> {
  await take(ctx, id, ref, () => new RenewalInFlightError(id, "change-product"), "change-product");
}

/**
 * Runs a suspend while holding the licence against renewals: refused (nothing sent) while a renewal is
 * in flight or awaits its outcome, so no renewal can undo it at the vendor.
 */
export async function whileSuspending<T>(
  ctx: DeskContext,
  id: string,
  suspend: () => Promise<T>,
): Promise<T> {
  // Its end, and who it is: two suspends in one millisecond are two holders, each freeing only its own.
  const ref: IntentRef = {
    scope: SUSPEND_SCOPE,
    key: `${ctx.nowMs() + ctx.idempotency.lockMs}:${randomBytes(6).toString("hex")}`,
  };
  // Another suspend holding it: suspending twice is harmless, so this one goes on beside it.
  const held = await take(ctx, id, ref, () => false, "suspend");
  try {
    return await suspend();
  } finally {
    if (held) await ctx.register.idempotency.freeLicence(id, ref).catch(() => {});
  }
}

/**
 * Runs `act` holding the licence alone: no renewal, suspend or other such act of it at once (a desk's
 * retirement of a succeeded licence, which two runs of a night must not both do). Undefined, nothing
 * done, when another holds it. A holder that died stops holding it after the lock's time.
 */
export async function whileHeldAlone<T>(
  ctx: DeskContext,
  id: string,
  act: () => Promise<T>,
): Promise<T | undefined> {
  const ref: IntentRef = {
    scope: SUSPEND_SCOPE,
    key: `${ctx.nowMs() + ctx.idempotency.lockMs}:${randomBytes(6).toString("hex")}`,
  };
  try {
    await take(ctx, id, ref, () => new RenewalInFlightError(id, "suspend"), "suspend");
  } catch (error) {
    if (error instanceof RenewalInFlightError) return undefined;
    throw error;
  }
  try {
    return await act();
  } finally {
    await ctx.register.idempotency.freeLicence(id, ref).catch(() => {});
  }
}
