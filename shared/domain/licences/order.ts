import { log } from "../../log.ts";
import { alerts } from "../alerts/alerts.ts";
import { orderSettled } from "../alerts/money-call-alerts.ts";
import { pendingOf } from "../alerts/send-pending.ts";
import { generationOf, ordersOpen, type Product } from "../catalogue/catalogue.ts";
import { nodesProblem } from "../catalogue/rules.ts";
import { canonicalIp } from "../ip.ts";
import type { LicenceSummary } from "../ports/billing.ts";
import { BillmgrVendorError } from "../ports/billing-errors.ts";
import type { IntentRef } from "../ports/intent-store.ts";
import type { LicenceRecord, RetireOld } from "../ports/licence-store.ts";
import type { DeskContext } from "./context.ts";
import { LifecycleClosedError, SuccessorNotLinkedError, ValidationError } from "./errors.ts";
import type { OrderInput } from "./inputs.ts";
import { holdForOrder, orderSlot } from "./order-hold.ts";
import {
  type Evidence,
  type MoneyCall,
  type MoneyOperation,
  type MoneyResult,
  notApplied,
  runMoneyIntent,
} from "./outcome-model.ts";
import { recordFromOrder, recordFromVendor } from "./records.ts";
import { retireSucceeded } from "./retire.ts";
import { retried } from "./retried.ts";
import { tellUndecided } from "./staff-alerts.ts";
import { updateAtVersion } from "./update-at-version.ts";

/**
 * `POST /licenses`: one licence bought per Idempotency-Key. The IP arrives canonical (the schema
 * writes IPv6 short and lower-case, as the vendor keeps it), so the evidence compares like with like.
 */
export async function orderLicence(ctx: DeskContext, body: OrderInput, key: string): Promise<MoneyResult> {
  const { intent, operation } = orderCall(ctx, body, key);
  return runMoneyIntent(intent, operation);
}

/** An order as the outcome model runs it: sent by `orderLicence`, settled from its record by the reconciler. */
export function orderCall(ctx: DeskContext, body: OrderInput, key: string): MoneyCall {
  const product = ctx.productOf(body.product);
  ctx.checkPeriod(product, body.period);
  orderNodes(product, body.nodes);
  const intent = ctx.intent("order", key, { operation: "order", body });
  return { intent, operation: orderOperation(ctx, intent.ref, body) };
}

/** An order that succeeds a licence: the two are linked once it is placed, and the old one retired as asked. */
export interface Succession {
  predecessorId: string;
  retireOld: RetireOld;
}

/** The order's phases under the intent `ref`: checks, the send, its answer, its evidence, its holds. */
export function orderOperation(
  ctx: DeskContext,
  ref: IntentRef,
  body: OrderInput,
  succession?: Succession,
): MoneyOperation {
  const product = ctx.productOf(body.product);
  ctx.checkPeriod(product, body.period);
  const nodes = orderNodes(product, body.nodes);
  const params = {
    ip: body.ip,
    name: body.name,
    product: product.id,
    period: body.period,
    nodes: nodes ?? null,
  };

  const slot = orderSlot(generationOf(product), body.ip);
  const holds = ctx.register.idempotency;
  const operation: MoneyOperation = {
    async prepare() {
      if (!ordersOpen(product, ctx.today)) {
        throw new LifecycleClosedError(product.id, "order", product.lifecycle.salesCloseOn ?? "", ctx.today);
      }
      await holdForOrder(ctx, slot, body.ip, ref);
      await ipStillFree(ctx, body, product);
      ctx.checkTimeForMoneyCall("order");
      return {
        context: { ip: body.ip, name: body.name, pricelist: product.pricelist, orderedOn: ctx.today },
        async send() {
          const { id } = await ctx.audited(
            "order",
            (answer) => answer.id,
            params,
            () =>
              ctx.billing.order(
                {
                  ip: body.ip,
                  name: body.name,
                  pricelist: product.pricelist,
                  period: body.period,
                  addons: product.nodes && nodes !== undefined ? { [product.nodes.addon]: nodes } : undefined,
                  // Renewals belong to our watcher: the vendor must never renew behind its back.
                  autoprolong: null,
                },
                ctx.vendorOptions,
              ),
          );
          return { licenceId: id };
        },
      };
    },
    applied: (facts) => orderedAnswer(ctx, ref, facts.licenceId ?? "", body, product, nodes, succession),
    reconcile: (context) => placedOrder(ctx, ref, context),
    released: () => holds.freeOrder(slot, ref),
    kept: () => holds.freeOrder(slot, ref),
    undecided: (evidence, record) => tellUndecided(ctx, record, evidence),
    async settledApplied(facts) {
      const alert = orderSettled(ref, facts.licenceId ?? "", ctx.caller.now);
      await retried("record the settled order's alert", () => ctx.register.alerts.record([pendingOf(alert)]));
    },
  };
  return operation;
}

/** The cluster nodes to order: those asked for, the product's least where none were. */
function orderNodes(product: Product, nodes: number | undefined): number | undefined {
  const problem = nodesProblem(product, nodes);
  if (problem !== undefined) throw new ValidationError({ nodes: problem });
  return product.nodes ? (nodes ?? product.nodes.min) : undefined;
}

/**
 * The licence of a placed order. The money moved: a form that cannot be read yet, or a register write
 * that fails, leaves the order's own facts in the answer (the next sync fills in the rest).
 */
async function orderedAnswer(
  ctx: DeskContext,
  ref: IntentRef,
  id: string,
  body: OrderInput,
  product: Product,
  nodes: number | undefined,
  succession?: Succession,
): Promise<LicenceRecord> {
  // The vendor named the id: it is this order's, whatever the claim says. Another intent holding it
  // would mean that intent's evidence took this order's licence: never silent.
  const claimed = await retried("claim the new licence id", () =>
    ctx.register.idempotency.claimLicenceId(id, ref),
  ).catch(() => undefined);
  if (claimed === false) {
    log("ERROR", "an ordered licence's id is claimed by another intent", {
      licence: id,
      client: ref.scope,
      key: ref.key,
    });
  }
  let record: LicenceRecord;
  try {
    const readFrom = new Date(ctx.nowMs()).toISOString();
    const details = await ctx.audited("get", id, { id }, () => ctx.billing.get(id, ctx.vendorOptions));
    record = {
      ...recordFromVendor(details, ctx.catalogue, body.autoRenew, ctx.caller.now),
      deskWrites: { form: readFrom },
    };
  } catch {
    record = recordFromOrder({ ...body, id, nodes }, product, ctx.caller.now);
  }
  if (succession) record.predecessorId = succession.predecessorId;
  const stored = await retried(`store licence ${id}`, () => storeOrdered(ctx, record)).catch(() => undefined);
  if (succession) await succeeded(ctx, succession, id);
  return stored ?? record;
}

/**
 * The predecessor learns its successor (and what becomes of it), and is retired at once where asked.
 * Unlinked, the old licence would still be renewed by the watcher: paid twice. So a link that cannot be
 * written leaves the call applied but unanswered (the client's retry, or the reconciler, links it and
 * answers; nothing is sent again). A retirement that cannot be done now is the night's (retire phase).
 */
async function succeeded(ctx: DeskContext, succession: Succession, successorId: string): Promise<void> {
  const { predecessorId: id, retireOld } = succession;
  try {
    await retried(`link licence ${id} to its successor`, () =>
      updateAtVersion(ctx.register.licences, id, (current) =>
        current.successorId === successorId ? undefined : { successorId, retireOld },
      ),
    );
  } catch (error) {
    log("ERROR", "a placed successor's predecessor could not be linked: the call stays open", {
      licence: id,
      successor: successorId,
      reason: error instanceof Error ? error.message : String(error),
    });
    throw new SuccessorNotLinkedError(id, successorId);
  }
  if (retireOld !== "now") return;
  try {
    await retireSucceeded(ctx, id, (gone) => tellRetired(ctx, gone, successorId));
  } catch (error) {
    log("WARN", "a successor's predecessor is not retired yet: the next night does it", {
      licence: id,
      successor: successorId,
      reason: error instanceof Error ? error.message : String(error),
    });
  }
}

/** Staff hear of a licence retired at once as of one the night retires (recorded, sent by the next pass). */
async function tellRetired(ctx: DeskContext, licence: LicenceRecord, successorId: string): Promise<void> {
  const told = {
    licence,
    product: ctx.catalogue.byPricelist(licence.pricelist),
    fate: { kind: "gone", deleted: true } as const,
  };
  const alert = alerts.licenceRetired(ctx.today, told, successorId, "today");
  await retried("record the retirement's alert", () => ctx.register.alerts.record([pendingOf(alert)])).catch(
    () => {},
  );
}

/**
 * The ordered licence into the register, never over what others wrote: created if new; if the night's
 * sync (or an earlier answer of this order, replayed) wrote it first, only the vendor's fields are
 * brought up to date at the version read, and the order's autoRenew only where none was set since. A
 * suspend mark or a reseller's change is never undone.
 */
async function storeOrdered(ctx: DeskContext, record: LicenceRecord): Promise<LicenceRecord | undefined> {
  const { licences } = ctx.register;
  if (await licences.create(record)) return licences.get(record.id);
  const { id: _id, autoRenew, suspendedBy: _mark, version: _version, predecessorId, ...vendor } = record;
  return updateAtVersion(licences, record.id, (current) => {
    // A view of the vendor read since ours (the sync's) is kept; the link to a predecessor is ours
    // alone, so a licence the sync found first (an order whose answer was lost) still gets it.
    const newer = current.syncedAt !== undefined && current.syncedAt >= (record.syncedAt ?? "");
    const changes = {
      ...(newer ? {} : vendor),
      ...(current.autoRenew === null && autoRenew !== null && { autoRenew }),
      ...(predecessorId !== undefined && current.predecessorId !== predecessorId && { predecessorId }),
    };
    return Object.keys(changes).length === 0 ? undefined : changes;
  });
}

/**
 * Right before sending: the vendor still has no live licence of this line on the IP (it would refuse
 * the order anyway). Refused here, nothing is sent; passed, every live licence of the line on that IP
 * found later was created after this moment: the evidence of an unanswered order.
 */
async function ipStillFree(ctx: DeskContext, body: OrderInput, product: Product): Promise<void> {
  const free = await ctx.audited(
    "check-ip",
    undefined,
    { ip: body.ip, product: product.id, period: body.period },
    () =>
      ctx.billing.checkIp(
        { ip: body.ip, pricelist: product.pricelist, period: body.period },
        ctx.vendorOptions,
      ),
  );
  if (!free.available) throw new BillmgrVendorError("soft.checkip", free.type, free.object, free.reason);
}

/**
 * Was the unanswered order placed? The vendor's book, after the settle window. The IP was free of live
 * licences of this line right before the order was sent, so the order's licence is a row on that IP and
 * line (its tariff may have changed since) created since its day, not deleted, that no other intent has claimed, and that this intent
 * claims now. One such row with the order's name: placed. None, in a list provably whole, and no
 * deleted one in its place: not placed. Anything else (several rows, another name, a deleted one, a
 * claim lost) a person must look at; a list not provably whole is read again later.
 */
async function placedOrder(
  ctx: DeskContext,
  ref: IntentRef,
  context: Record<string, string>,
): Promise<Evidence> {
  const { ip, name, pricelist, orderedOn = "" } = context;
  const list = await ctx.audited("reconcile-order", undefined, { ip: ip ?? "", name: name ?? "" }, () =>
    ctx.billing.list(ctx.vendorOptions),
  );
  // Of the order's line, not its exact tariff: a change of product since (Lite to Business) moved the
  // licence's pricelist, not its line, and the IP held no live licence of the line when it was sent.
  const ordered = ctx.catalogue.byPricelist(pricelist ?? "");
  const sameLine = (rowPricelist: string): boolean => {
    if (rowPricelist === pricelist) return true;
    const product = ctx.catalogue.byPricelist(rowPricelist);
    return ordered !== undefined && product !== undefined && generationOf(product) === generationOf(ordered);
  };
  const since: LicenceSummary[] = [];
  for (const row of list.rows) {
    if ((canonicalIp(row.ip) ?? row.ip) !== ip || !sameLine(row.pricelist)) continue;
    const createdOn =
      row.createdOn ??
      (await ctx.audited("get", row.id, { id: row.id }, () => ctx.billing.get(row.id, ctx.vendorOptions)))
        .createdOn;
    if (createdOn !== undefined && createdOn >= orderedOn) since.push(row);
  }
  const owners = await ctx.register.idempotency.licenceIdOwners(since.map((row) => row.id));
  const ours = (id: string) => {
    const owner = owners.get(id);
    return owner === undefined || (owner.scope === ref.scope && owner.key === ref.key);
  };
  const candidates = since.filter((row) => ours(row.id));
  const live = candidates.filter((row) => row.status !== "deleted");
  const deleted = candidates.filter((row) => row.status === "deleted");
  const staff = (reason: string): Evidence => ({ kind: "undecided", staff: true, reason });
  const named = (row: LicenceSummary) => `licence ${row.id} ("${row.name}", ${row.status})`;
  const [only] = live;
  if (live.length > 1)
    return staff(
      `${live.length} live licences on ${ip} were created since ${orderedOn}: ${live.map(named).join(", ")}`,
    );
  if (only && only.name !== name)
    return staff(
      `the one licence on ${ip} created since ${orderedOn}, ${named(only)}, does not carry the order's name "${name}"`,
    );
  if (only) {
    if (await ctx.register.idempotency.claimLicenceId(only.id, ref))
      return { kind: "applied", facts: { licenceId: only.id } };
    return staff(`${named(only)} on ${ip} was claimed by another order meanwhile`);
  }
  if (deleted.length > 0)
    return staff(
      `a licence on ${ip} created since ${orderedOn} is deleted (${deleted.map(named).join(", ")}): it may be this order's, deleted since`,
    );
  // "Not placed" only from the whole list: a row missing from a partial one may be the charged order.
  if (!list.complete) {
    return {
      kind: "undecided",
      reason: `the vendor's licence list could not be proven complete, so whether the order was placed is not known yet: ${list.incomplete}`,
    };
  }
  return notApplied(
    "order_not_placed",
    `the vendor has no licence for ${name} on ${ip} created since ${orderedOn}, well after the unanswered order was sent: it was not placed and nothing was charged; order again with a new Idempotency-Key`,
  );
}
