import { type Catalogue, ordersOpen, type Product } from "../catalogue/catalogue.ts";
import { addDays, type IsoDate } from "../dates.ts";
import type { LicenceRecord, SuccessorPlan } from "../ports/licence-store.ts";
import { fateOf } from "./fate.ts";
import { isLive, type PlanSettings } from "./renewal-rules.ts";

/** A planned successor is ordered this many days before the licence stops working, unless `on` says when. */
export const SUCCESSOR_LEAD_DAYS = 14;

/** The fleet-wide setting (`PLAN_SUCCESSORS`): a successor planned for every licence set to renew. */
export interface SuccessorPlanSettings extends PlanSettings {
  planSuccessors?: boolean;
}

/** A plan as the watcher carries it out: the product resolved, the night fixed. */
export interface DuePlan {
  plan: SuccessorPlan;
  product: Product;
  /** The night it is ordered (or the first after it, if that one was missed). */
  on: IsoDate;
  /** Planned by the fleet-wide setting rather than for this licence. */
  fleet: boolean;
}

/**
 * The licence's plan: its own (`PATCH` with `successor`), or, with the fleet-wide setting, one for a
 * licence set to renew whose product has a successor (for as long as its own renewals: `autoRenew`
 * months). None once carried out, for a licence with a successor, or one opted out (`successor: null`).
 */
export function plannedSuccessor(
  record: LicenceRecord,
  product: Product | undefined,
  settings: SuccessorPlanSettings,
): { plan: SuccessorPlan; fleet: boolean } | undefined {
  if (record.successorId !== undefined || record.successorPlan === null) return undefined;
  if (record.successorPlan !== undefined) {
    return record.successorPlan.orderedOn === undefined
      ? { plan: record.successorPlan, fleet: false }
      : undefined;
  }
  if (!settings.planSuccessors || record.autoRenew === null || product?.successor === undefined)
    return undefined;
  return { plan: { period: record.autoRenew, retireOld: "after_expiry" }, fleet: true };
}

/**
 * The last day the licence works, as far as the night can tell: its expiry once nothing renews it any
 * more, else the last day its product allows (`lastValidDay`), else unknown (nothing to plan from).
 */
export function stopsWorkingAfter(
  record: LicenceRecord,
  product: Product | undefined,
  night: IsoDate,
  settings: PlanSettings,
): IsoDate | undefined {
  const fate = fateOf(record, product, night, settings);
  switch (fate.kind) {
    case "automatic":
      return product?.lifecycle.lastValidDay;
    case "ends":
      return fate.on;
    case "manual":
    case "not_due":
    case "blocked":
      return record.expiresOn;
    default:
      return undefined;
  }
}

/**
 * The plan the watcher carries out on `night` or later: its product (the plan's, or the catalogue's
 * successor) still sold, and its night (the plan's `on`, or 14 days before the licence stops working).
 * Undefined when there is none, or no night can be told yet.
 */
export function successorPlanFor(
  record: LicenceRecord,
  catalogue: Catalogue,
  night: IsoDate,
  settings: SuccessorPlanSettings,
): DuePlan | undefined {
  if (!isLive(record)) return undefined;
  const current = catalogue.byPricelist(record.pricelist);
  const planned = plannedSuccessor(record, current, settings);
  if (!planned) return undefined;
  const productId = planned.plan.product ?? current?.successor;
  const product = productId === undefined ? undefined : catalogue.byId(productId);
  if (!product) return undefined;
  const stops =
    planned.plan.on === undefined ? stopsWorkingAfter(record, current, night, settings) : undefined;
  const on = planned.plan.on ?? (stops === undefined ? undefined : addDays(stops, -SUCCESSOR_LEAD_DAYS));
  if (on === undefined) return undefined;
  return { plan: planned.plan, product, on, fleet: planned.fleet };
}

/** Whether the watcher orders the licence's planned successor tonight. */
export function successorDueTonight(
  due: DuePlan | undefined,
  record: LicenceRecord,
  night: IsoDate,
): boolean {
  return (
    due !== undefined && due.on <= night && record.suspendedBy !== "desk" && ordersOpen(due.product, night)
  );
}
