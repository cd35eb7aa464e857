import { ordersOpen } from "../catalogue/catalogue.ts";
import type { IpAvailability } from "../ports/billing.ts";
import type {
  DeskWrites,
  DeskWritten,
  LicenceChanges,
  LicenceRecord,
  SuccessorPlan,
} from "../ports/licence-store.ts";
import { suspensionMark } from "../renewal/renewal-rules.ts";
import type { DeskContext } from "./context.ts";
import { NotFoundError, ValidationError } from "./errors.ts";
import { refusalReason } from "./failed-calls.ts";
import type { IpQuery, PlannedSuccessorInput, UpdateInput } from "./inputs.ts";
import { whileSuspending } from "./licence-hold.ts";
import { recordFromVendor } from "./records.ts";
import { forgetLostSuccessor } from "./retire.ts";
import { refuseIfSucceeded, successorProduct } from "./successor.ts";

/**
 * The licence desk's other operations: each vendor call audited, each register write touching only
 * the fields it changes (so it never undoes another writer's change to the rest).
 */
export function licenceChanges(ctx: DeskContext) {
  const { billing, register, catalogue, caller } = ctx;
  /** The fields this call wrote at the vendor, stamped with the real time (the sync compares its reads to it). */
  const wrote = (...fields: DeskWritten[]): { deskWrites: DeskWrites } => {
    const at = new Date(ctx.nowMs()).toISOString();
    return { deskWrites: Object.fromEntries(fields.map((field) => [field, at])) };
  };

  async function save(id: string, changes: LicenceChanges): Promise<LicenceRecord> {
    const after = await register.licences.update(id, { ...changes, updatedAt: caller.now.toISOString() });
    if (!after) throw new NotFoundError(`licence ${id}`);
    return after;
  }

  /**
   * The vendor's form, stored; our own settings (autoRenew, the suspend mark) stay as they are. A
   * suspension it shows while the licence runs is marked as the sync marks it (never renewed as a lapse;
   * the night tells staff of it), as the sync will see no change left to tell.
   */
  async function refresh(id: string, base: LicenceRecord | undefined): Promise<LicenceRecord> {
    const readFrom = wrote("form");
    const details = await ctx.audited("get", id, { id }, () => billing.get(id, ctx.vendorOptions));
    const seen = recordFromVendor(details, catalogue, base?.autoRenew ?? null, caller.now);
    const vendor = { ...seen, ...suspensionMark(base, seen, ctx.today), ...readFrom };
    if (!base) {
      await register.licences.put(vendor);
      return vendor;
    }
    const { id: _id, autoRenew: _own, ...fields } = vendor;
    return (
      (await register.licences.update(id, { ...fields, formPending: undefined, goneSince: undefined })) ??
      vendor
    );
  }

  return {
    async get(id: string, fromVendor: boolean): Promise<LicenceRecord> {
      const record = await register.licences.get(id);
      if (!fromVendor) {
        if (!record) throw new NotFoundError(`licence ${id}`);
        return record;
      }
      return refresh(id, record);
    },

    async update(id: string, body: UpdateInput): Promise<LicenceRecord> {
      const record = await ctx.stored(id);
      const changes: LicenceChanges = {};
      // Checked before anything reaches the vendor: a refused plan leaves the name and IP unsent too.
      if (body.successor !== undefined)
        changes.successorPlan = await successorPlanOf(ctx, record, body.successor);
      if (body.name !== undefined || body.ip !== undefined) {
        const edit = {
          ...(body.name !== undefined && { name: body.name }),
          ...(body.ip !== undefined && { ip: body.ip }),
        };
        await ctx.audited("edit", id, { id, ...edit }, () => billing.edit(id, edit, ctx.vendorOptions));
        Object.assign(changes, edit, wrote(...(Object.keys(edit) as DeskWritten[])));
      }
      if (body.autoRenew !== undefined) changes.autoRenew = body.autoRenew;
      return save(id, changes);
    },

    /** Suspended on purpose: marked, so the watcher never renews it behind the reseller's back. */
    /**
     * Never while a renewal is on its way to the vendor: that renewal would reactivate the licence. Marked
     * ours before the vendor hears of it, so a night's sync that sees the suspension at the vendor knows
     * whose it is (and tells no one "suspended by the vendor"); the mark goes if the vendor refuses.
     */
    async suspend(id: string): Promise<LicenceRecord> {
      const before = await ctx.stored(id);
      return whileSuspending(ctx, id, async () => {
        if (before.suspendedBy !== "desk") await save(id, { suspendedBy: "desk" });
        try {
          await ctx.audited("suspend", id, { id }, () => billing.suspend(id, ctx.vendorOptions));
        } catch (error) {
          if (before.suspendedBy !== "desk" && refusalReason(error) !== undefined)
            await save(id, { suspendedBy: undefined }).catch(() => {});
          throw error;
        }
        return save(id, { status: "suspended", statusCode: "3", suspendedBy: "desk", ...wrote("status") });
      });
    },

    async resume(id: string): Promise<LicenceRecord> {
      await ctx.stored(id);
      await ctx.audited("resume", id, { id }, () => billing.resume(id, ctx.vendorOptions));
      return save(id, {
        status: "active",
        statusCode: "2",
        suspendedBy: undefined,
        suspendedOn: undefined,
        ...wrote("status"),
      });
    },

    async regenerateKey(id: string): Promise<{ id: string; key: string | undefined }> {
      await ctx.stored(id);
      const { key } = await ctx.audited("regenerate-key", id, { id }, () =>
        billing.regenerateKey(id, ctx.vendorOptions),
      );
      await save(id, { key, ...wrote("key") });
      return { id, key };
    },

    async delete(id: string): Promise<LicenceRecord> {
      await ctx.stored(id);
      await ctx.audited("delete", id, { id }, () => billing.delete(id, ctx.vendorOptions));
      const deleted = await save(id, { status: "deleted", statusCode: "4", ...wrote("status") });
      await forgetLostSuccessor(register.licences, deleted).catch(() => {}); // the night's sync does it too
      return deleted;
    },

    async checkIp(query: IpQuery): Promise<IpAvailability> {
      const product = ctx.productOf(query.product);
      ctx.checkPeriod(product, query.period);
      if (!ordersOpen(product, ctx.today)) {
        return {
          available: false,
          reason: `${product.title} sales closed on ${product.lifecycle.salesCloseOn}`,
          type: "lifecycle_closed",
          object: "product",
        };
      }
      const params = { ip: query.ip, product: product.id, period: query.period };
      return ctx.audited("check-ip", undefined, params, () =>
        billing.checkIp(
          { ip: query.ip, pricelist: product.pricelist, period: query.period },
          ctx.vendorOptions,
        ),
      );
    },
  };
}

/**
 * A successor planned for the watcher to order, checked as `POST /licenses/{id}/successor` checks its
 * order (a live licence with no live successor, a product of a later generation sold for that period);
 * null plans none. Its sales are checked on the night it is ordered.
 */
async function successorPlanOf(
  ctx: DeskContext,
  record: LicenceRecord,
  input: PlannedSuccessorInput | null,
): Promise<SuccessorPlan | null> {
  if (input === null) return null;
  await refuseIfSucceeded(ctx, record);
  try {
    const product = successorProduct(ctx.catalogue, record, input.product);
    ctx.checkPeriod(product, input.period);
  } catch (error) {
    // Named as the client sent them: inside `successor`.
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(
      Object.fromEntries(
        Object.entries(error.fields).map(([field, problem]) => [`successor.${field}`, problem]),
      ),
    );
  }
  if (input.on !== undefined && input.on < ctx.today) {
    throw new ValidationError({
      "successor.on": `must be today (${ctx.today}) or later; leave it out for 14 days before the licence stops working`,
    });
  }
  return {
    period: input.period,
    ...(input.product !== undefined && { product: input.product }),
    ...(input.on !== undefined && { on: input.on }),
    retireOld: input.retireOld,
  };
}
