import { type IsoDate, parseVendorDate } from "../dates.ts";
import { child, children, field } from "./document.ts";
import { BillmgrUnavailableError, BillmgrVendorError } from "./errors.ts";
import { type LicenceDetails, type LicenceSummary, readDetails, readList } from "./licence.ts";
import type { Transport } from "./transport.ts";

export type Period = 1 | 3 | 6 | 12;
export type AutoProlong = 1 | 12 | null;

export interface OrderRequest {
  ip: string;
  name: string;
  pricelist: string;
  period: Period;
  /** Add-on quantities by vendor field, e.g. `{ addon_4602: 2 }` for Business cluster nodes. */
  addons?: Record<string, number>;
  autoprolong: AutoProlong;
}

export interface CheckIpRequest {
  ip: string;
  pricelist: string;
  period: Period;
}

export type IpAvailability =
  | { available: true }
  | { available: false; reason: string; type: string; object: string | undefined };

export interface Balance {
  /** In the currency's minor unit (cents), so forecasts add up exactly. */
  minor: number;
  currency: string | undefined;
  /** As the vendor wrote it. */
  text: string;
}

/** The vendor's licence functions, one method each; the port the domain depends on. */
export interface BillingClient {
  order(request: OrderRequest): Promise<{ id: string }>;
  prolong(id: string, period: Period): Promise<{ newExpiry: IsoDate | undefined }>;
  edit(id: string, change: { name?: string; ip?: string }): Promise<void>;
  regenerateKey(id: string): Promise<{ key: string | undefined }>;
  suspend(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  delete(id: string): Promise<void>;
  checkIp(request: CheckIpRequest): Promise<IpAvailability>;
  list(): Promise<LicenceSummary[]>;
  get(id: string): Promise<LicenceDetails>;
  /** Undefined where the configured function reports no balance. */
  balance(): Promise<Balance | undefined>;
}

export interface BillingClientOptions {
  /** Rows asked for per page of `func=soft`. */
  pageSize: number;
  /** The vendor function that reports the balance on this installation (`dashboard.info` or `subaccount`). */
  balanceFunc: string;
}

/** Vendor ids are digits; anything else is refused before it can reach the wire. */
function elid(id: string): string {
  if (!/^\d{1,19}$/.test(id)) throw new TypeError(`licence id must be digits, got ${JSON.stringify(id)}`);
  return id;
}

/** A page-count guard: a vendor that ignores paging must not keep us looping. */
const MAX_PAGES = 10_000;

export function createBillingClient(transport: Transport, options: BillingClientOptions): BillingClient {
  const get = async (id: string): Promise<LicenceDetails> => {
    const doc = await transport.call("soft.edit", { elid: elid(id) }, "read");
    const details = readDetails(doc);
    if (!details) throw new BillmgrUnavailableError("soft.edit", "answer carries no licence", "not_applied");
    return details;
  };

  return {
    async order(request) {
      for (const name of Object.keys(request.addons ?? {})) {
        if (!/^addon_\d+$/.test(name)) throw new TypeError(`not an add-on field: ${JSON.stringify(name)}`);
      }
      const doc = await transport.call(
        "soft.order.param",
        {
          ...request.addons,
          ip: request.ip,
          licname: request.name,
          period: request.period,
          pricelist: request.pricelist,
          autoprolong: request.autoprolong ?? "null",
          skipbasket: "on",
          clicked_button: "finish",
          sok: "ok",
        },
        "money",
      );
      // Public clients disagree on where the new id sits; the vendor has charged either way.
      const id = field(doc, "id") ?? field(doc, "item.id") ?? field(child(doc, "item"), "id");
      if (!id) {
        throw new BillmgrUnavailableError(
          "soft.order.param",
          "order accepted but no licence id in the answer",
          "unknown",
        );
      }
      return { id };
    },

    async prolong(id, period) {
      const doc = await transport.call("service.prolong", { elid: elid(id), period, sok: "ok" }, "money");
      const newExpiry = parseVendorDate(
        field(child(doc, "doc"), "newexpiredate") ?? field(doc, "newexpiredate"),
      );
      return { newExpiry };
    },

    async edit(id, change) {
      // The form replaces both fields: send the current value of the one not being changed.
      const current = change.name === undefined || change.ip === undefined ? await get(id) : undefined;
      await transport.call(
        "soft.edit",
        { elid: elid(id), licname: change.name ?? current?.name, ip: change.ip ?? current?.ip, sok: "ok" },
        "write",
      );
    },

    async regenerateKey(id) {
      const doc = await transport.call(
        "soft.edit",
        { elid: elid(id), clicked_button: "newkey", sok: "ok" },
        "write",
      );
      const key = field(doc, "lickey") ?? (await get(id)).key;
      return { key };
    },

    async suspend(id) {
      await transport.call("soft.suspend", { elid: elid(id) }, "write");
    },

    async resume(id) {
      await transport.call("soft.resume", { elid: elid(id) }, "write");
    },

    async delete(id) {
      await transport.call("soft.delete", { elid: elid(id) }, "write");
    },

    async checkIp(request) {
      try {
        await transport.call(
          "soft.checkip",
          { ip: request.ip, pricelist: request.pricelist, period: request.period },
          "read",
        );
        return { available: true };
      } catch (error) {
        // A taken or refused IP is an answer to the question, not a failure of the call.
        if (error instanceof BillmgrVendorError && (error.type === "exists" || error.type === "value")) {
          return { available: false, reason: error.vendorMessage, type: error.type, object: error.object };
        }
        throw error;
      }
    },

    async list() {
      const byId = new Map<string, LicenceSummary>();
      for (let page = 1; page <= MAX_PAGES; page++) {
        const doc = await transport.call("soft", { p_num: page, p_cnt: options.pageSize }, "read");
        const rows = readList(doc);
        const before = byId.size;
        for (const row of rows) byId.set(row.id, row);
        const total = Number(field(doc, "p_elems"));
        const done = Number.isFinite(total) ? byId.size >= total : rows.length < options.pageSize;
        if (done || byId.size === before) break;
      }
      return [...byId.values()];
    },

    get,

    async balance() {
      const doc = await transport.call(options.balanceFunc, {}, "read");
      for (const row of [doc, ...children(doc, "elem")]) {
        const text = field(row, "balance");
        if (text !== undefined) return parseBalance(text, field(row, "currency"));
      }
      return undefined;
    },
  };
}

/** "123.45 EUR", "1 234,56 RUB" or "123.45" with the currency in its own field. */
export function parseBalance(text: string, currencyField: string | undefined): Balance | undefined {
  const match = /^\s*(-?[\d\s\u00a0]*\d(?:[.,]\d{1,2})?)\s*([A-Za-z]{3})?\s*$/.exec(text);
  if (!match?.[1]) return undefined;
  const amount = Number(match[1].replace(/[\s\u00a0]/g, "").replace(",", "."));
  return { minor: Math.round(amount * 100), currency: match[2] ?? currencyField, text };
}
