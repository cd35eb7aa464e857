import type { IpAvailabilityQuery, OrderBody, RenewBody, UpdateBody } from "../api/requests.ts";
import type { BillingClient, IpAvailability } from "../billmgr/client.ts";
import { BillmgrError, BillmgrTimeoutError, BillmgrVendorError } from "../billmgr/errors.ts";
import { type Catalogue, expiryCap, ordersOpen, type Product, renewalsOpen } from "../catalogue/index.ts";
import { toIsoDate } from "../dates.ts";
import type { AuditEntry, LicenceRecord, Register, StoredResponse } from "../register/types.ts";
import { LifecycleClosedError, NotFoundError, ValidationError } from "./errors.ts";
import { type IdempotencySettings, onceOnly } from "./idempotency.ts";
import { recordFromVendor } from "./records.ts";

export interface DeskDeps {
  billing: BillingClient;
  register: Register;
  catalogue: Catalogue;
  idempotency: IdempotencySettings;
}

/** Who is asking, and when: every decision takes the date as input. */
export interface Caller {
  client: string;
  now: Date;
}

export type MoneyResult = StoredResponse & { replayed: boolean };

type AuditParams = AuditEntry["params"];

/**
 * The licence desk's use cases: what each HTTP route does, without HTTP. Every vendor call
 * is audited; money-moving calls run at most once per Idempotency-Key.
 */
export function licenceDesk(deps: DeskDeps, caller: Caller) {
  const { billing, register, catalogue } = deps;
  const today = toIsoDate(caller.now);

  async function audited<T>(
    operation: string,
    licenceId: string | undefined,
    params: AuditParams,
    call: () => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    let outcome: AuditEntry["outcome"] = "ok";
    let error: string | undefined;
    try {
      return await call();
    } catch (e) {
      if (e instanceof BillmgrVendorError) [outcome, error] = ["vendor_error", e.type];
      else if (e instanceof BillmgrError && e.outcome === "unknown") [outcome, error] = ["unknown", e.kind];
      else if (e instanceof BillmgrTimeoutError) [outcome, error] = ["timeout", e.kind];
      else [outcome, error] = ["unavailable", e instanceof BillmgrError ? e.kind : "internal"];
      throw e;
    } finally {
      await register.audit.record({
        at: new Date().toISOString(),
        client: caller.client,
        operation,
        licenceId,
        params,
        outcome,
        error,
        durationMs: Math.round(performance.now() - started),
      });
    }
  }

  async function stored(id: string): Promise<LicenceRecord> {
    const record = await register.licences.get(id);
    if (!record) throw new NotFoundError(`licence ${id}`);
    return record;
  }

  async function save(record: LicenceRecord, changes: Partial<LicenceRecord>): Promise<LicenceRecord> {
    const next = { ...record, ...changes, updatedAt: caller.now.toISOString() };
    await register.licences.put(next);
    return next;
  }

  /** Reads the vendor's form and stores it; after an order the form may lag, so the order's own facts fill in. */
  async function refreshFromVendor(id: string, base: LicenceRecord | undefined): Promise<LicenceRecord> {
    const details = await audited("get", id, { id }, () => billing.get(id));
    const record = recordFromVendor(details, catalogue, base?.autoRenew ?? null, caller.now);
    await register.licences.put(record);
    return record;
  }

  function productOf(id: string, field = "product"): Product {
    const product = catalogue.byId(id);
    if (!product)
      throw new ValidationError({
        [field]: `is not in the catalogue (${catalogue.products.map((p) => p.id).join(", ")})`,
      });
    return product;
  }

  function checkPeriod(product: Product, period: number): void {
    if (!product.periods.includes(period as 1)) {
      throw new ValidationError({ period: `must be one of ${product.periods.join(", ")} for ${product.id}` });
    }
  }

  return {
    async order(body: OrderBody, key: string): Promise<MoneyResult> {
      const product = productOf(body.product);
      checkPeriod(product, body.period);
      if (body.nodes !== undefined && !product.nodes)
        throw new ValidationError({ nodes: `${product.id} has no cluster nodes` });
      if (
        product.nodes &&
        body.nodes !== undefined &&
        (body.nodes < product.nodes.min || body.nodes > product.nodes.max)
      ) {
        throw new ValidationError({ nodes: `must be from ${product.nodes.min} to ${product.nodes.max}` });
      }
      const nodes = product.nodes ? (body.nodes ?? product.nodes.min) : undefined;
      const params: AuditParams = {
        ip: body.ip,
        name: body.name,
        product: product.id,
        period: body.period,
        nodes: nodes ?? null,
      };

      return onceOnly(
        {
          operation: "order",
          store: register.idempotency,
          settings: deps.idempotency,
          scope: caller.client,
          key,
          request: { operation: "order", body },
          context: {},
          // Locks and lifetimes run on the wall clock: every run of one night decides with the same `now`.
          nowMs: Date.now(),
        },
        async (guard) => {
          if (!ordersOpen(product, today)) {
            throw new LifecycleClosedError(product.id, "order", product.lifecycle.salesCloseOn ?? "", today);
          }
          guard.sent = true;
          const { id } = await audited("order", undefined, params, () =>
            billing.order({
              ip: body.ip,
              name: body.name,
              pricelist: product.pricelist,
              period: body.period,
              addons: product.nodes && nodes !== undefined ? { [product.nodes.addon]: nodes } : undefined,
              // Renewals belong to our watcher: the vendor must never renew behind its back.
              autoprolong: null,
            }),
          );
          const record = await orderedRecord(id, body, product, nodes);
          return { statusCode: 201, body: record };
        },
        () => reconcileOrder(body, product, nodes),
      );
    },

    async renew(id: string, body: RenewBody, key: string): Promise<MoneyResult> {
      const record = await stored(id);
      return onceOnly(
        {
          operation: "renew",
          store: register.idempotency,
          settings: deps.idempotency,
          scope: caller.client,
          key,
          request: { operation: "renew", id, body },
          context: {},
          // Locks and lifetimes run on the wall clock: every run of one night decides with the same `now`.
          nowMs: Date.now(),
        },
        async (guard) => {
          const product = catalogue.byPricelist(record.pricelist);
          if (product) {
            checkPeriod(product, body.period);
            if (!renewalsOpen(product, today)) {
              throw new LifecycleClosedError(
                product.id,
                "renew",
                product.lifecycle.renewalsCloseOn ?? "",
                today,
              );
            }
            const cap = expiryCap(product, today);
            if (cap && record.expiresOn && record.expiresOn >= cap) {
              throw new LifecycleClosedError(product.id, "renew", cap, today);
            }
          }
          // The vendor's expiry right before the renewal is what tells, later, whether it happened.
          const before = await refreshFromVendor(id, record);
          await register.idempotency.saveContext(caller.client, key, {
            expiryBefore: before.expiresOn ?? "",
          });
          guard.sent = true;
          const { newExpiry } = await audited("renew", id, { id, period: body.period }, () =>
            billing.prolong(id, body.period),
          );
          const renewed = newExpiry
            ? await save(before, {
                expiresOn: newExpiry,
                status: "active",
                statusCode: "2",
                syncedAt: caller.now.toISOString(),
              })
            : await refreshFromVendor(id, before);
          return { statusCode: 200, body: renewed };
        },
        (context) => reconcileRenewal(id, record, context.expiryBefore || record.expiresOn),
      );
    },

    async get(id: string, refresh: boolean): Promise<LicenceRecord> {
      const record = await register.licences.get(id);
      if (!refresh) {
        if (!record) throw new NotFoundError(`licence ${id}`);
        return record;
      }
      return refreshFromVendor(id, record);
    },

    async update(id: string, body: UpdateBody): Promise<LicenceRecord> {
      const record = await stored(id);
      const changes: Partial<LicenceRecord> = {};
      if (body.name !== undefined || body.ip !== undefined) {
        const edit = {
          ...(body.name !== undefined && { name: body.name }),
          ...(body.ip !== undefined && { ip: body.ip }),
        };
        await audited("edit", id, { id, ...edit }, () => billing.edit(id, edit));
        Object.assign(changes, edit, { syncedAt: caller.now.toISOString() });
      }
      if (body.autoRenew !== undefined) changes.autoRenew = body.autoRenew;
      return save(record, changes);
    },

    async suspend(id: string): Promise<LicenceRecord> {
      const record = await stored(id);
      await audited("suspend", id, { id }, () => billing.suspend(id));
      return save(record, { status: "suspended", statusCode: "3", syncedAt: caller.now.toISOString() });
    },

    async resume(id: string): Promise<LicenceRecord> {
      const record = await stored(id);
      await audited("resume", id, { id }, () => billing.resume(id));
      return save(record, { status: "active", statusCode: "2", syncedAt: caller.now.toISOString() });
    },

    async regenerateKey(id: string): Promise<{ id: string; key: string | undefined }> {
      const record = await stored(id);
      const { key } = await audited("regenerate-key", id, { id }, () => billing.regenerateKey(id));
      await save(record, { key, syncedAt: caller.now.toISOString() });
      return { id, key };
    },

    async delete(id: string): Promise<LicenceRecord> {
      const record = await stored(id);
      await audited("delete", id, { id }, () => billing.delete(id));
      return save(record, { status: "deleted", statusCode: "4", syncedAt: caller.now.toISOString() });
    },

    async checkIp(query: IpAvailabilityQuery): Promise<IpAvailability> {
      const product = productOf(query.product);
      checkPeriod(product, query.period);
      if (!ordersOpen(product, today)) {
        return {
          available: false,
          reason: `${product.title} sales closed on ${product.lifecycle.salesCloseOn}`,
          type: "lifecycle_closed",
          object: "product",
        };
      }
      const params = { ip: query.ip, product: product.id, period: query.period };
      return audited("check-ip", undefined, params, () =>
        billing.checkIp({ ip: query.ip, pricelist: product.pricelist, period: query.period }),
      );
    },
  };

  /** A new licence's record; if its form cannot be read yet, the order's own facts, refreshed by the next sync. */
  async function orderedRecord(
    id: string,
    body: OrderBody,
    product: Product,
    nodes: number | undefined,
  ): Promise<LicenceRecord> {
    try {
      const details = await audited("get", id, { id }, () => billing.get(id));
      const record = recordFromVendor(details, catalogue, body.autoRenew, caller.now);
      await register.licences.put(record);
      return record;
    } catch (error) {
      if (!(error instanceof BillmgrError)) throw error;
      const record: LicenceRecord = {
        id,
        name: body.name,
        ip: body.ip,
        product: product.id,
        pricelist: product.pricelist,
        period: body.period,
        nodes,
        status: "processing",
        statusCode: "",
        expiresOn: undefined,
        createdOn: today,
        key: undefined,
        autoRenew: body.autoRenew,
        syncedAt: undefined,
        updatedAt: caller.now.toISOString(),
      };
      await register.licences.put(record);
      return record;
    }
  }

  /** Did the unanswered order happen? The vendor allows one live licence per IP: look for ours. */
  async function reconcileOrder(
    body: OrderBody,
    product: Product,
    nodes: number | undefined,
  ): Promise<StoredResponse> {
    const licences = await audited("reconcile-order", undefined, { ip: body.ip, name: body.name }, () =>
      billing.list(),
    );
    const match = licences.find(
      (l) =>
        l.ip === body.ip &&
        l.name === body.name &&
        l.pricelist === product.pricelist &&
        l.status !== "deleted",
    );
    if (match) return { statusCode: 201, body: await orderedRecord(match.id, body, product, nodes) };
    return {
      statusCode: 409,
      body: {
        error: {
          code: "order_not_placed",
          message:
            "the vendor has no licence for this name and IP: the unanswered order was not placed and nothing was charged; order again with a new Idempotency-Key",
          details: { outcome: "not_applied" },
        },
      },
    };
  }

  async function reconcileRenewal(
    id: string,
    record: LicenceRecord,
    expiryBefore: string | undefined,
  ): Promise<StoredResponse> {
    const now = await refreshFromVendor(id, record);
    if (now.expiresOn && (!expiryBefore || now.expiresOn > expiryBefore))
      return { statusCode: 200, body: now };
    return {
      statusCode: 409,
      body: {
        error: {
          code: "renewal_not_applied",
          message: `the vendor's expiry is still ${now.expiresOn ?? "unknown"}: the unanswered renewal was not applied; renew again with a new Idempotency-Key`,
          details: { outcome: "not_applied", expiresOn: now.expiresOn ?? null },
        },
      },
    };
  }
}

export type LicenceDesk = ReturnType<typeof licenceDesk>;
