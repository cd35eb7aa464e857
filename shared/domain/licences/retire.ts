import type { LicenceRecord, LicenceStore } from "../ports/licence-store.ts";
import { isLive } from "../renewal/renewal-rules.ts";
import type { DeskContext } from "./context.ts";
import { isMissed } from "./failed-calls.ts";
import { whileHeldAlone } from "./licence-hold.ts";
import { updateAtVersion } from "./update-at-version.ts";

/** What became of a succeeded licence the desk meant to retire. */
export type Retirement =
  | { kind: "retired"; licence: LicenceRecord }
  /** Its successor does not run at the vendor (its status there): kept, and staff told why. */
  | { kind: "held"; successorStatus: string }
  /** Deleted already, not succeeded, or another run is at it. */
  | { kind: "skipped" };

/**
 * A succeeded licence deleted at the vendor, once, and only while its successor runs there (read there,
 * not from the register), so a server is never left without a licence that works. Held alone and read
 * again, so a rerun, or a second run at once, deletes nothing; one whose deletion failed half-way
 * (`retiredOn` written, still live) is finished by the next call.
 */
export async function retireSucceeded(
  ctx: DeskContext,
  id: string,
  /**
   * Told once the vendor has deleted it and before the register says so: staff hear of it even if the
   * process dies in between (the next call finishes the retirement and tells it again; the ledger keeps
   * it once).
   */
  deleted?: (licence: LicenceRecord) => Promise<void>,
): Promise<Retirement> {
  const done = await whileHeldAlone(ctx, id, async (): Promise<Retirement> => {
    const current = await ctx.register.licences.get(id);
    if (!current?.successorId || !isLive(current)) return { kind: "skipped" };
    const successorId = current.successorId;
    let status: string;
    try {
      const details = await ctx.audited("get", successorId, { id: successorId }, () =>
        ctx.billing.get(successorId, ctx.vendorOptions),
      );
      status = details.status;
    } catch (error) {
      if (!isMissed(error)) throw error;
      status = "deleted";
    }
    if (status !== "active") return { kind: "held", successorStatus: status };
    return { kind: "retired", licence: await deleteRetired(ctx, current, deleted) };
  });
  return done ?? { kind: "skipped" };
}

/**
 * Marked retired first (so a run killed after the vendor's delete is never told as "deleted by the
 * vendor", and the next call finishes it), then deleted at the vendor (a licence it no longer knows is
 * deleted already), then marked deleted.
 */
async function deleteRetired(
  ctx: DeskContext,
  current: LicenceRecord,
  deleted?: (licence: LicenceRecord) => Promise<void>,
): Promise<LicenceRecord> {
  const { id } = current;
  const retiredOn = current.retiredOn ?? ctx.today;
  if (current.retiredOn === undefined) await ctx.register.licences.update(id, { retiredOn });
  try {
    await ctx.audited("retire", id, { id, successor: current.successorId ?? "" }, () =>
      ctx.billing.delete(id, ctx.vendorOptions),
    );
  } catch (error) {
    if (!isMissed(error)) throw error;
  }
  const gone: LicenceRecord = { ...current, status: "deleted", statusCode: "4", retiredOn };
  await deleted?.(gone);
  const after = await ctx.register.licences.update(id, {
    status: "deleted",
    statusCode: "4",
    deskWrites: { status: new Date(ctx.nowMs()).toISOString() },
    updatedAt: ctx.caller.now.toISOString(),
  });
  return after ?? gone;
}

/**
 * A successor no longer live (deleted, gone from the vendor's list) carries nothing on: its predecessor
 * is no longer succeeded, so the usual rules (renewal, warnings, "order a successor") apply to it again.
 * The link is kept only while the successor lives; its own mail tells of its deletion.
 */
export async function forgetLostSuccessor(
  licences: LicenceStore,
  successor: LicenceRecord,
): Promise<LicenceRecord | undefined> {
  if (successor.predecessorId === undefined || isLive(successor)) return undefined;
  return updateAtVersion(licences, successor.predecessorId, (current) =>
    current.successorId === successor.id && isLive(current)
      ? { successorId: undefined, retireOld: undefined }
      : undefined,
  );
}
