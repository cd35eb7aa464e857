import { generationOf, ordersOpen, type Product } from "../catalogue/catalogue.ts";
import { nodesProblem } from "../catalogue/rules.ts";
import type { LicenceDetails, Period } from "../ports/billing.ts";
import type { LicenceChanges, LicenceRecord } from "../ports/licence-store.ts";
import { isLive } from "../renewal/renewal-rules.ts";
import type { DeskContext } from "./context.ts";
import { LicenceStateRefusedError, LifecycleClosedError, ValidationError } from "./errors.ts";
import { isMissed } from "./failed-calls.ts";
import type { ChangeProductInput } from "./inputs.ts";
import { holdForProductChange } from "./licence-hold.ts";
import {
  type Evidence,
  type MoneyCall,
  type MoneyOperation,
  type MoneyResult,
  notApplied,
  runMoneyIntent,
} from "./outcome-model.ts";
import { retried } from "./retried.ts";
import { tellUndecided } from "./staff-alerts.ts";

/**
 * `POST /licenses/{id}/change-product`: the licence moved to another tariff of its own product line
 * (`service.changepricelist`; Lite to Business, ISPmanager 6 Lite to Pro), one per Idempotency-Key and one
 * money call per licence at a time (a renewal of it waits, and it waits for one). The vendor charges the
 * change; its evidence is the licence's pricelist (and nodes) at the vendor.
 */
export function changeProduct(
  ctx: DeskContext,
  id: string,
  body: ChangeProductInput,
  key: string,
): Promise<MoneyResult> {
  const { intent, operation } = changeProductCall(ctx, id, body, key);
  return runMoneyIntent(intent, operation);
}

export function changeProductCall(
  ctx: DeskContext,
  id: string,
  body: ChangeProductInput,
  key: string,
): MoneyCall {
  const intent = ctx.intent("change-product", key, { operation: "change-product", id, body });
  const holds = ctx.register.idempotency;
  const operation: MoneyOperation = {
    async prepare() {
      const record = await ctx.stored(id);
      refuseDeleted(record);
      const target = ctx.productOf(body.product);
      const current = checkChange(ctx, record, target, body);
      await holdForProductChange(ctx, id, intent.ref);
      // The vendor's form decides what the licence is now: the register may be a night behind.
      const vendor = await ctx.audited("get", id, { id }, () => ctx.billing.get(id, ctx.vendorOptions));
      const nodes = targetNodes(target, body.nodes, current, nodesAt(current, vendor));
      if (vendor.pricelist === target.pricelist && nodesAt(target, vendor) === nodes) {
        throw unchanged(record, target, "the vendor's form shows");
      }
      const period = licencePeriod(target, vendor.period ?? record.period);
      ctx.checkTimeForMoneyCall("change-product");
      return {
        context: {
          licenceId: id,
          pricelistBefore: vendor.pricelist,
          nodesBefore: String(nodesAt(current, vendor) ?? ""),
          product: target.id,
          pricelist: target.pricelist,
          nodes: String(nodes ?? ""),
          period: String(period),
        },
        async send() {
          const addons = target.nodes && nodes !== undefined ? { [target.nodes.addon]: nodes } : undefined;
          await ctx.audited(
            "change-product",
            id,
            { id, product: target.id, period, nodes: nodes ?? null },
            () =>
              ctx.billing.changeProduct(
                id,
                { pricelist: target.pricelist, period, ...(addons && { addons }) },
                ctx.vendorOptions,
              ),
          );
          return {};
        },
      };
    },
    applied: (_facts, context) => changedAnswer(ctx, id, context),
    reconcile: (context) => changeEvidence(ctx, id, context),
    released: () => holds.freeLicence(id, intent.ref),
    kept: () => holds.freeLicence(id, intent.ref),
    undecided: (evidence, record) => tellUndecided(ctx, record, evidence),
  };
  return { intent, operation };
}

function refuseDeleted(record: LicenceRecord): void {
  if (isLive(record)) return;
  throw new LicenceStateRefusedError(
    "licence_deleted",
    `licence ${record.id} is deleted at the vendor, so its product cannot change; nothing was sent or charged`,
    { licenceId: record.id },
  );
}

/** The rules the catalogue decides, before anything is held or read: the licence's own product line, still sold. */
function checkChange(
  ctx: DeskContext,
  record: LicenceRecord,
  target: Product,
  body: ChangeProductInput,
): Product {
  const current = ctx.catalogue.byPricelist(record.pricelist);
  if (!current) {
    throw new ValidationError({
      product: `cannot be changed from pricelist ${record.pricelist}, which the catalogue does not know (so neither its product line)`,
    });
  }
  if (generationOf(current) !== generationOf(target)) {
    throw new ValidationError({
      product: `must be of the licence's own product line (${generationOf(current)}, like ${current.id}); ${target.id} is ${generationOf(target)}: move to it with POST /licenses/${record.id}/successor`,
    });
  }
  if (!ordersOpen(target, ctx.today)) {
    throw new LifecycleClosedError(target.id, "order", target.lifecycle.salesCloseOn ?? "", ctx.today);
  }
  const nodes = targetNodes(target, body.nodes, current, record.nodes);
  if (target.id === current.id && nodes === record.nodes)
    throw unchanged(record, target, "the register shows");
  return current;
}

/** The nodes after the change: those asked for; else the licence's own where both tariffs have nodes, or the least. */
function targetNodes(
  target: Product,
  asked: number | undefined,
  current: Product,
  now: number | undefined,
): number | undefined {
  const problem = nodesProblem(target, asked);
  if (problem !== undefined) throw new ValidationError({ nodes: problem });
  if (!target.nodes) return undefined;
  return asked ?? (current.nodes && now !== undefined ? now : target.nodes.min);
}

function nodesAt(product: Product, details: LicenceDetails): number | undefined {
  return product.nodes ? details.addons[product.nodes.addon] : undefined;
}

/** The vendor's form asks for a period: the licence's own, which the new tariff must sell. */
function licencePeriod(target: Product, period: number | undefined): Period {
  const own = period ?? target.periods[0] ?? 1;
  if (!target.periods.includes(own as 1 | 12)) {
    throw new ValidationError({
      product: `${target.id} is not sold for ${own} months, the licence's period; renew the licence for ${target.periods.join(" or ")} months first`,
    });
  }
  return own as Period;
}

function unchanged(record: LicenceRecord, target: Product, source: string): LicenceStateRefusedError {
  return new LicenceStateRefusedError(
    "product_unchanged",
    `licence ${record.id} is already ${target.id}${target.nodes ? " with these nodes" : ""}, as ${source}; nothing was sent or charged`,
    { licenceId: record.id, product: target.id },
  );
}

/** The licence after an applied change. The money moved: a failed register write never changes that. */
async function changedAnswer(
  ctx: DeskContext,
  id: string,
  context: Record<string, string>,
): Promise<LicenceRecord> {
  const changes: LicenceChanges = {
    product: context.product,
    pricelist: context.pricelist ?? "",
    nodes: context.nodes ? Number(context.nodes) : undefined,
    deskWrites: { pricelist: new Date(ctx.nowMs()).toISOString() },
    updatedAt: ctx.caller.now.toISOString(),
  };
  const after = await retried(`store the change of product of ${id}`, () =>
    ctx.register.licences.update(id, changes),
  ).catch(() => undefined);
  return (
    after ??
    ({ ...(await ctx.register.licences.get(id).catch(() => undefined)), id, ...changes } as LicenceRecord)
  );
}

/** Was the unanswered change applied? The vendor's pricelist and nodes say: the new ones yes, the old ones no. */
async function changeEvidence(
  ctx: DeskContext,
  id: string,
  context: Record<string, string>,
): Promise<Evidence> {
  const before = `${context.pricelistBefore}/${context.nodesBefore}`;
  const expected = `${context.pricelist}/${context.nodes}`;
  let details: LicenceDetails;
  try {
    details = await ctx.audited("reconcile-change-product", id, { id }, () =>
      ctx.billing.get(id, ctx.vendorOptions),
    );
  } catch (error) {
    if (!isMissed(error)) throw error;
    return {
      kind: "undecided",
      staff: true,
      reason: `the vendor no longer knows licence ${id} (deleted since the change was sent), so its tariff cannot tell whether the change was charged`,
      facts: { licenceId: id, before, expected, seen: "none: the licence is deleted" },
    };
  }
  const product = ctx.catalogue.byPricelist(details.pricelist);
  const seen = `${details.pricelist}/${(product && nodesAt(product, details)) ?? ""}`;
  if (seen === expected) return { kind: "applied", facts: {} };
  if (seen === before) {
    return notApplied(
      "product_change_not_applied",
      `the vendor's form still shows pricelist ${context.pricelistBefore}, well after the unanswered change was sent: it was not applied and nothing was charged; change it again with a new Idempotency-Key`,
      { pricelist: context.pricelistBefore },
    );
  }
  return {
    kind: "undecided",
    staff: true,
    reason: `the vendor's tariff of licence ${id} is ${seen} (pricelist/nodes), neither ${before} (before the change) nor ${expected} (the change applied)`,
    facts: { licenceId: id, before, expected, seen },
  };
}
