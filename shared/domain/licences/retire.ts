import { BillmgrVendorError } from "../ports/billing-errors.ts";
import type { LicenceRecord } from "../ports/licence-store.ts";
import { isLive } from "../renewal/renewal-rules.ts";
import type { DeskContext } from "./context.ts";
import { whileHeldAlone } from "./licence-hold.ts";

/** What became of a succeeded licence the watcher meant to retire. */
export type Retirement =
  | { kind: "retired"; licence: LicenceRecord }
  /** Its successor does not run at the vendor: kept, and staff told why. */
  | { kind: "held"; why: string }
  /** Retired already, not to be retired, or another run is at it. */
  | { kind: "skipped" };

/**
 * Deleted at the vendor as a placed successor's predecessor, once: holding the licence alone and read
 * again, so a rerun, or a second run at once, deletes nothing.
 */
export async function retire(ctx: DeskContext, id: string): Promise<LicenceRecord | undefined> {
  return whileHeldAlone(ctx, id, async () => {
    const current = await ctx.register.licences.get(id);
    if (!current || !isLive(current)) return undefined;
    return deleteRetired(ctx, current);
  });
}

/**
 * The watcher's retirement after the expiry: only while its successor runs at the vendor (read there,
 * not from the register), so a server is never left without a licence that works.
 */
export async function retireAfterSuccessor(ctx: DeskContext, id: string): Promise<Retirement> {
  const done = await whileHeldAlone(ctx, id, async (): Promise<Retirement> => {
    const current = await ctx.register.licences.get(id);
    if (!current?.successorId || current.retiredOn !== undefined || !isLive(current))
      return { kind: "skipped" };
    const successorId = current.successorId;
    let status: string;
    try {
      const details = await ctx.audited("get", successorId, { id: successorId }, () =>
        ctx.billing.get(successorId, ctx.vendorOptions),
      );
      status = details.status;
    } catch (error) {
      // The vendor answers `missed` for a licence it deleted.
      if (!(error instanceof BillmgrVendorError && error.type === "missed")) throw error;
      status = "deleted";
    }
    if (status !== "active")
      return { kind: "held", why: `its successor, licence ${successorId}, is ${status} at the vendor` };
    return { kind: "retired", licence: await deleteRetired(ctx, current) };
  });
  return done ?? { kind: "skipped" };
}

/**
 * Marked retired first (so a run killed after the vendor's delete is never told as "deleted by the
 * vendor", and the next night finishes it), then deleted at the vendor (a licence it no longer knows is
 * deleted already), then marked deleted.
 */
async function deleteRetired(ctx: DeskContext, current: LicenceRecord): Promise<LicenceRecord> {
  const { id } = current;
  if (current.retiredOn === undefined) await ctx.register.licences.update(id, { retiredOn: ctx.today });
  try {
    await ctx.audited("retire", id, { id, successor: current.successorId ?? "" }, () =>
      ctx.billing.delete(id, ctx.vendorOptions),
    );
  } catch (error) {
    if (!(error instanceof BillmgrVendorError && error.type === "missed")) throw error;
  }
  const after = await ctx.register.licences.update(id, {
    status: "deleted",
    statusCode: "4",
    deskWrites: { status: new Date(ctx.nowMs()).toISOString() },
    updatedAt: ctx.caller.now.toISOString(),
  });
  return after ?? { ...current, status: "deleted", statusCode: "4", retiredOn: ctx.today };
}
