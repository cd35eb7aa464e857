import { parseVendorDate } from "../../domain/dates.ts";
import { parseMoney } from "../../domain/money.ts";
import type {
  Balance,
  BillingClient,
  CallOptions,
  LicenceDetails,
  LicenceList,
  LicenceSummary,
} from "../../domain/ports/billing.ts";
import { BillmgrUnavailableError, BillmgrVendorError } from "../../domain/ports/billing-errors.ts";
import { child, children, field, type VendorElement } from "./document.ts";
import { readDetails, readList } from "./licence.ts";
import type { Transport } from "./transport.ts";
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
/** Add-on names become parameter names: only `addon_<digits>` may, so none can override another parameter. */
function checkAddons(addons: Record<string, number> | undefined): void {
  for (const name of Object.keys(addons ?? {})) {
    if (!/^addon_\d+$/.test(name)) throw new TypeError(`not an add-on field: ${JSON.stringify(name)}`);
  }
}
/** A page-count guard: a vendor that ignores paging must not keep us looping. */
const MAX_PAGES = 10_000;
export function createBillingClient(transport: Transport, options: BillingClientOptions): BillingClient {
  const get = async (id: string, opts?: CallOptions): Promise<LicenceDetails> => {
    const doc = await transport.call("soft.edit", { elid: elid(id) }, "read", opts);
    const details = readDetails(doc);
    if (!details) throw new BillmgrUnavailableError("soft.edit", "answer carries no licence", "not_applied");
    return details;
  };

  return {
    async order(request, opts) {
      checkAddons(request.addons);
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
        opts,
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

    async prolong(id, period, opts) {
      const doc = await transport.call(
        "service.prolong",
        { elid: elid(id), period, sok: "ok" },
        "money",
        opts,
      );
      const newExpiry = parseVendorDate(
        field(child(doc, "doc"), "newexpiredate") ?? field(doc, "newexpiredate"),
      );
      return { newExpiry };
    },

    async changeProduct(id, change, opts) {
      checkAddons(change.addons);
      await transport.call(
        "service.changepricelist",
        { ...change.addons, elid: elid(id), pricelist: change.pricelist, period: change.period, sok: "ok" },
        "money",
        opts,
      );
    },

    async edit(id, change, opts) {
      // The form replaces both fields: send the current value of the one not being changed.
      const current = change.name === undefined || change.ip === undefined ? await get(id, opts) : undefined;
      await transport.call(
        "soft.edit",
        { elid: elid(id), licname: change.name ?? current?.name, ip: change.ip ?? current?.ip, sok: "ok" },
        "write",
        opts,
      );
    },

    async regenerateKey(id, opts) {
      const doc = await transport.call(
        "soft.edit",
        { elid: elid(id), clicked_button: "newkey", sok: "ok" },
        "write",
        opts,
      );
      const key = field(doc, "lickey") ?? (await get(id, opts)).key;
      return { key };
    },

    async suspend(id, opts) {
      await transport.call("soft.suspend", { elid: elid(id) }, "write", opts);
    },

    async resume(id, opts) {
      await transport.call("soft.resume", { elid: elid(id) }, "write", opts);
    },

    async delete(id, opts) {
      await transport.call("soft.delete", { elid: elid(id) }, "write", opts);
    },

    async checkIp(request, opts) {
      try {
        await transport.call(
          "soft.checkip",
          { ip: request.ip, pricelist: request.pricelist, period: request.period },
          "read",
          opts,
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

    async list(opts) {
      const byId = new Map<string, LicenceSummary>();
      // Every row read is a licence the vendor has, so a list cut short keeps the page that showed why.
      const verdict = (incomplete?: string): LicenceList => ({
        rows: [...byId.values()],
        ...(incomplete === undefined ? { complete: true } : { complete: false, incomplete }),
      });
      let total: number | undefined;
      let largest = 0;
      for (let page = 1; page <= MAX_PAGES; page++) {
        const doc = await transport.call("soft", { p_num: page, p_cnt: options.pageSize }, "read", opts);
        const rows = readList(doc);
        const count = pageTotal(doc);
        const repeated = rows.find((row) => byId.has(row.id));
        for (const row of rows) byId.set(row.id, row);
        // A count that changes between pages means licences came or went mid-read: the pages shifted.
        if (page > 1 && count !== total) {
          return verdict(
            `the vendor's count of licences (p_elems) changed from ${total ?? "none"} to ${count ?? "none"} between pages ${page - 1} and ${page}: licences were added or removed while the list was read`,
          );
        }
        total = count;
        if (repeated) {
          return verdict(
            `page ${page} of the vendor's list repeats licence ${repeated.id} of an earlier page: the vendor ignores p_num, or its pages shifted while the list was read`,
          );
        }
        if (total !== undefined) {
          if (byId.size >= total) return verdict();
          if (rows.length === 0) {
            return verdict(
              `the vendor counts ${total} licences (p_elems) but its pages ended after ${byId.size}`,
            );
          }
        } else if (rows.length === 0 || rows.length < largest) {
          // Without a count, a page shorter than p_cnt proves nothing (a vendor may cap pages below it):
          // only one shorter than a page it served before, or an empty one, is its last.
          return verdict();
        }
        largest = Math.max(largest, rows.length);
      }
      return verdict(`the vendor's list did not end within ${MAX_PAGES} pages`);
    },

    get,

    async balance(opts) {
      const doc = await transport.call(options.balanceFunc, {}, "read", opts);
      for (const row of [doc, ...children(doc, "elem")]) {
        const text = field(row, "balance");
        if (text !== undefined) return parseBalance(text, field(row, "currency"));
      }
      return undefined;
    },
  };
}
/** The vendor's count of licences (`p_elems`), if the page carries one. */
function pageTotal(doc: VendorElement): number | undefined {
  const text = field(doc, "p_elems") ?? "";
  return /^\d+$/.test(text) ? Number(text) : undefined;
}
/** The balance as the vendor prints it ("1,234.56 USD", "123.45 €", "1 234,56 RUB"), or undefined if unreadable. */
export function parseBalance(text: string, currencyField: string | undefined): Balance | undefined {
  const money = parseMoney(text, currencyField);
  return money && { ...money, text };
}
