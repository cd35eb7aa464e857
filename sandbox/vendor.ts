import { type Account, authenticate, login, type Sessions } from "./auth.ts";
import { SandboxError } from "./errors.ts";
import { formatMinor } from "./pricing.ts";
import { el, errorNode, type Node, ok, parent, type VendorDoc } from "./render.ts";
import type { Licence, SandboxState } from "./state.ts";
import type { OrderInput, TariffChangeInput } from "./validation.ts";

export type OrderIdShape = "id" | "item.id";

export interface VendorContext {
  readonly state: SandboxState;
  readonly account: Account;
  readonly sessions: Sessions;
  /** Page size of `func=soft` when the caller sends no `p_cnt`. */
  readonly pageSize: number;
  /** Public clients disagree on where the new id sits; the sandbox can serve either. */
  readonly orderIdShape: OrderIdShape;
}

type Params = Readonly<Record<string, string>>;
type Handler = (ctx: VendorContext, params: Params) => Node[];

/**
 * One vendor call: credentials, then the function. Refusals become the vendor's `<error>` in an
 * otherwise normal document, as the vendor answers them (HTTP 200).
 */
export function callVendor(ctx: VendorContext, params: Params): VendorDoc {
  const func = params.func ?? "";
  try {
    if (func === "auth") {
      const session = login(params, ctx.account, ctx.sessions);
      return { func, children: [el("auth", session, { id: session, level: "16" })] };
    }
    authenticate(params, ctx.account, ctx.sessions);
    const handler = HANDLERS.get(func);
    if (!handler) throw new SandboxError("missed", "func", "Unknown function", func);
    return { func, children: handler(ctx, params) };
  } catch (error) {
    if (!(error instanceof SandboxError)) throw error;
    return { func, children: [errorNode(error.type, error.object, error.value, error.message)] };
  }
}

function money(ctx: VendorContext, minor: number): string {
  return `${formatMinor(minor)} ${ctx.state.currency}`;
}

/** Every `addon_<id>` parameter, keyed by its full name. */
function addonParams(params: Params): Record<string, string> {
  const addons: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    if (name.startsWith("addon_")) addons[name] = value;
  }
  return addons;
}

function orderInput(params: Params): OrderInput {
  return {
    ip: params.ip,
    licname: params.licname,
    pricelist: params.pricelist,
    period: params.period,
    autoprolong: params.autoprolong,
    addons: addonParams(params),
  };
}

function tariffChangeInput(params: Params): TariffChangeInput {
  return { pricelist: params.pricelist, period: params.period, addons: addonParams(params) };
}

function addonNodes(ctx: VendorContext, licence: Pick<Licence, "pricelist" | "nodes">): Node[] {
  const addon = ctx.state.product(licence.pricelist)?.addon;
  return addon && licence.nodes !== null ? [el(`addon_${addon.id}`, licence.nodes)] : [];
}

/** A positive integer paging parameter, or its default when absent. */
function pageParam(params: Params, name: string, fallback: number): number {
  const text = params[name];
  if (text === undefined || text === "") return fallback;
  const value = /^\d{1,9}$/.test(text) ? Number(text) : 0;
  if (value < 1) throw new SandboxError("value", name, "Invalid value", text);
  return value;
}

function listRow(licence: Licence): Node {
  return parent("elem", [
    el("id", licence.id),
    el("licname", licence.licname),
    el("ip", licence.ip),
    el("pricelist_id", licence.pricelist),
    el("period", licence.period),
    el("expiredate", licence.expiredate),
    el("createdate", licence.createdate),
    el("status", licence.status),
    // The date of the last key change, as the reseller list carries it once a key was regenerated.
    ...(licence.lickey_change_date && licence.lickey_change_date !== licence.createdate
      ? [el("real_keychange", licence.lickey_change_date)]
      : []),
  ]);
}

function editForm(ctx: VendorContext, licence: Licence): Node[] {
  // Dates and the remote IP appear once the vendor has them (compare edit-form-nokey.xml).
  const optional = (name: string, value: string): Node[] => (value ? [el(name, value)] : []);
  return [
    el("elid", licence.id),
    el("id", licence.id),
    el("licname", licence.licname),
    el("ip", licence.ip),
    ...optional("remoteip", licence.remoteip),
    el("lickey", licence.key),
    el("status", licence.status),
    el("pricelist", licence.pricelist),
    el("period", licence.period),
    ...addonNodes(ctx, licence),
    el("createdate", licence.createdate),
    el("expiredate", licence.expiredate),
    ...optional("ip_change_date", licence.ip_change_date),
    ...optional("lickey_change_date", licence.lickey_change_date),
  ];
}

const HANDLERS: ReadonlyMap<string, Handler> = new Map(
  Object.entries({
    "soft.order.param": (ctx, params) => {
      const input = orderInput(params);
      if (params.sok !== "ok" || params.clicked_button !== "finish") {
        // The order wizard's form: what the order would cost; nothing changes.
        const quote = ctx.state.quoteOrder(input);
        return [
          el("pricelist", quote.product.pricelist),
          el("period", quote.period),
          ...addonNodes(ctx, { pricelist: quote.product.pricelist, nodes: quote.nodes }),
          el("price", money(ctx, quote.priceMinor)),
        ];
      }
      if (params.skipbasket !== "on") {
        // Without skipbasket=on the order only lands in the vendor's cart: nothing paid, no licence.
        ctx.state.validateOrder(input);
        return [ok()];
      }
      const licence = ctx.state.order(input);
      return ctx.orderIdShape === "item.id"
        ? [el("item.id", licence.id), ok()]
        : [ok(), el("id", licence.id)];
    },

    "service.prolong": (ctx, params) => {
      if (params.sok === "ok") {
        const done = ctx.state.prolong(params.elid, params.period);
        return [parent("doc", [el("newexpiredate", done.newexpiredate)]), ok()];
      }
      const quote = ctx.state.quoteProlong(params.elid, params.period);
      return [
        el("elid", quote.licence.id),
        el("expiredate", quote.expiredate),
        el("newexpiredate", quote.newexpiredate),
        el("period", quote.period),
      ];
    },

    "service.changepricelist": (ctx, params) => {
      const input = tariffChangeInput(params);
      if (params.sok === "ok") {
        ctx.state.changeTariff(params.elid, input);
        return [ok()];
      }
      // The form: what the change would cost today; nothing changes.
      const quote = ctx.state.quoteTariffChange(params.elid, input);
      return [
        el("elid", quote.licence.id),
        el("pricelist", quote.product.pricelist),
        el("period", quote.period),
        ...addonNodes(ctx, { pricelist: quote.product.pricelist, nodes: quote.nodes }),
        el("price", money(ctx, quote.priceMinor)),
      ];
    },

    "soft.edit": (ctx, params) => {
      if (params.sok === "ok" && params.clicked_button === "newkey") {
        return [el("lickey", ctx.state.newKey(params.elid)), ok()];
      }
      if (params.sok === "ok") {
        ctx.state.edit(params.elid, { licname: params.licname, ip: params.ip });
        return [ok()];
      }
      return editForm(ctx, ctx.state.licence(params.elid));
    },

    "soft.suspend": (ctx, params) => {
      ctx.state.suspend(params.elid);
      return [ok()];
    },

    "soft.resume": (ctx, params) => {
      ctx.state.resume(params.elid);
      return [ok()];
    },

    "soft.delete": (ctx, params) => {
      ctx.state.delete(params.elid);
      return [ok()];
    },

    "soft.checkip": (ctx, params) => {
      ctx.state.checkOrder({ ip: params.ip, pricelist: params.pricelist, period: params.period });
      return [ok()];
    },

    soft: (ctx, params) => {
      const { pageCap, omitPageTotal, ignorePageNumber } = ctx.state.quirks;
      const asked = pageParam(params, "p_cnt", ctx.pageSize);
      // A capped vendor pages by its own size, so page p_num is rows ((p_num-1)*cap, p_num*cap].
      const pageSize = pageCap === null ? asked : Math.min(asked, pageCap);
      // A malformed p_num is refused either way; a vendor that ignores it serves its first page for any.
      const asks = pageParam(params, "p_num", 1);
      const page = ignorePageNumber ? 1 : asks;
      const { rows, total } = ctx.state.page((page - 1) * pageSize, pageSize);
      const paging = omitPageTotal
        ? [el("p_num", page)]
        : [el("p_cnt", pageSize), el("p_num", page), el("p_elems", total)];
      // The vendor starts every page with an element that carries no data.
      return [el("elem"), ...rows.map(listRow), ...paging];
    },

    "dashboard.info": (ctx) => [
      parent("elem", [el("balance", money(ctx, ctx.state.balanceMinor)), el("credit", money(ctx, 0))]),
    ],

    subaccount: (ctx) => [
      parent("elem", [
        el("id", "1"),
        el("balance", formatMinor(ctx.state.balanceMinor)),
        el("currency", ctx.state.currency),
      ]),
    ],
  } satisfies Record<string, Handler>),
);

export const VENDOR_FUNCTIONS: readonly string[] = ["auth", ...HANDLERS.keys()];
