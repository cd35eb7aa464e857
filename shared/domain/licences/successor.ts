import type { Catalogue } from "../catalogue/catalogue.ts";
import { generationOf, type Product } from "../catalogue/catalogue.ts";
import type { LicenceRecord } from "../ports/licence-store.ts";
import { isLive } from "../renewal/renewal-rules.ts";
import type { DeskContext } from "./context.ts";
import { LicenceStateRefusedError, ValidationError } from "./errors.ts";
import type { OrderInput, SuccessorInput } from "./inputs.ts";
import { orderOperation, type Succession } from "./order.ts";
import { type MoneyCall, type MoneyOperation, type MoneyResult, runMoneyIntent } from "./outcome-model.ts";

/**
 * `POST /licenses/{id}/successor`: a licence of a later generation ordered on the same IP under the same
 * name (the vendor's move from ISPmanager 5 to 6), one per Idempotency-Key, under the outcome model
 * exactly as an order: the same evidence (the IP and the successor's pricelist), the same slot per IP and
 * generation, the same replay. The key's request is the client's; the order it resolves to (from the
 * licence as it was when first sent) is kept with the intent, so the reconciler settles that order.
 */
export async function orderSuccessor(
  ctx: DeskContext,
  id: string,
  body: SuccessorInput,
  key: string,
): Promise<MoneyResult> {
  const { intent, operation } = successorCall(ctx, id, body, key);
  return runMoneyIntent(intent, operation);
}

export function successorCall(ctx: DeskContext, id: string, body: SuccessorInput, key: string): MoneyCall {
  const intent = ctx.intent("successor", key, { operation: "successor", id, body });
  const succession: Succession = { predecessorId: id, retireOld: body.retireOld };
  let order: MoneyOperation | undefined;
  /** The order this successor resolved to when it was first sent, as its intent keeps it. */
  const orderOf = (context: Record<string, string> | undefined): MoneyOperation | undefined => {
    if (order === undefined && context?.successorOrder !== undefined) {
      order = orderOperation(ctx, intent.ref, JSON.parse(context.successorOrder) as OrderInput, succession);
    }
    return order;
  };
  const resolved = (context: Record<string, string>): MoneyOperation => {
    const operation = orderOf(context);
    if (!operation) throw new Error(`successor intent ${key}: no order kept with it`);
    return operation;
  };
  const operation: MoneyOperation = {
    async prepare() {
      const old = await ctx.stored(id);
      await refuseIfSucceeded(ctx, old);
      const input = successorOrder(ctx.catalogue, old, body);
      order = orderOperation(ctx, intent.ref, input, succession);
      const prepared = await order.prepare();
      return { ...prepared, context: { ...prepared.context, successorOrder: JSON.stringify(input) } };
    },
    applied: (facts, context) => resolved(context).applied(facts, context),
    reconcile: (context) => resolved(context).reconcile(context),
    released: async (context) => orderOf(context)?.released(context),
    kept: async (context) => orderOf(context)?.kept?.(context),
    settledApplied: async (facts, context) => resolved(context).settledApplied?.(facts, context),
    undecided: async (evidence, record) => orderOf(record.context)?.undecided?.(evidence, record),
  };
  return { intent, operation };
}

/** A deleted licence has nothing to carry over; one with a live successor has been carried already. */
export async function refuseIfSucceeded(ctx: DeskContext, old: LicenceRecord): Promise<void> {
  if (!isLive(old)) {
    throw new LicenceStateRefusedError(
      "licence_deleted",
      `licence ${old.id} is deleted at the vendor: a successor is ordered for a licence that still exists; order a new licence for ${old.ip} instead (POST /licenses); nothing was sent`,
      { licenceId: old.id },
    );
  }
  if (old.successorId === undefined) return;
  const successor = await ctx.register.licences.get(old.successorId);
  if (successor && isLive(successor)) {
    throw new LicenceStateRefusedError(
      "successor_exists",
      `licence ${old.id} already has a live successor, licence ${successor.id} (${successor.product ?? successor.pricelist}, ${successor.status}); nothing was sent or charged: see GET /licenses/${successor.id}`,
      { licenceId: old.id, successorId: successor.id },
    );
  }
}

/** The order the successor resolves to: the licence's IP and name, what the body leaves out taken from it. */
function successorOrder(catalogue: Catalogue, old: LicenceRecord, body: SuccessorInput): OrderInput {
  const product = successorProduct(catalogue, old, body.product);
  const nodes = product.nodes ? (body.nodes ?? old.nodes) : body.nodes;
  return {
    ip: old.ip,
    name: old.name,
    product: product.id,
    period: body.period,
    ...(nodes !== undefined && { nodes }),
    autoRenew: body.autoRenew === undefined ? old.autoRenew : body.autoRenew,
  };
}

/** The successor's product: the one asked for, else the catalogue's successor; of a later generation. */
export function successorProduct(
  catalogue: Catalogue,
  old: LicenceRecord,
  asked: string | undefined,
): Product {
  const current = catalogue.byPricelist(old.pricelist);
  const productId = asked ?? current?.successor;
  if (productId === undefined) {
    throw new ValidationError({
      product: `is required: the catalogue names no successor for ${current?.id ?? `pricelist ${old.pricelist}`}`,
    });
  }
  const product = catalogue.byId(productId);
  if (!product) {
    throw new ValidationError({
      product: `is not in the catalogue (${catalogue.products.map((p) => p.id).join(", ")})`,
    });
  }
  if (current && !laterGenerations(catalogue, current).has(generationOf(product))) {
    throw new ValidationError({
      product: `must be of a later generation than ${current.id} (${generationOf(current)})${current.successor ? `, such as ${current.successor}` : ""}`,
    });
  }
  return product;
}

/** The generations a product's successors lead to, as the catalogue names them (ISPmanager 5: 6). */
function laterGenerations(catalogue: Catalogue, product: Product): Set<string> {
  const later = new Set<string>();
  let next = product.successor ? catalogue.byId(product.successor) : undefined;
  while (next && !later.has(generationOf(next))) {
    later.add(generationOf(next));
    next = next.successor ? catalogue.byId(next.successor) : undefined;
  }
  return later;
}
