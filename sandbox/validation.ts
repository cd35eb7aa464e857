import { isIP } from "node:net";
import { isIsoDate } from "../shared/domain/dates.ts";
import { SandboxError } from "./errors.ts";
import { type Product, periodsOf, sellsPeriod } from "./products.ts";
import { canonicalIpv6, type Quirks, storableText } from "./quirks.ts";
import type { Autoprolong, StatusCode } from "./state.ts";

/*
 * The vendor's checks of the values it is sent, as its forms answer them: each refusal is the
 * `SandboxError` the vendor's own would be. Nothing here looks at the book (an IP in use, an id taken):
 * those checks are the state's.
 */

/** Order parameters as they arrive over HTTP: strings, possibly missing. */
export interface OrderInput {
  ip?: string | undefined;
  licname?: string | undefined;
  pricelist?: string | undefined;
  period?: string | undefined;
  autoprolong?: string | undefined;
  /** Every `addon_<id>` parameter, keyed by the full parameter name. */
  addons?: Readonly<Record<string, string>> | undefined;
}

/** `service.changepricelist` parameters as they arrive over HTTP: strings, possibly missing. */
export interface TariffChangeInput {
  pricelist?: string | undefined;
  /** Absent or blank: the licence's own period. */
  period?: string | undefined;
  /** Every `addon_<id>` parameter, keyed by the full parameter name. */
  addons?: Readonly<Record<string, string>> | undefined;
}

export interface ValidOrder {
  ip: string;
  licname: string;
  product: Product;
  period: number;
  nodes: number | null;
  autoprolong: Autoprolong;
}

export const MAX_LICNAME_LENGTH = 64;

const STATUSES: readonly string[] = ["1", "2", "3", "4", "5"];
const CONTROL_CHARS = /\p{Cc}/u;

/** The values of an order checked the way the vendor's form checks them, kept as the vendor keeps them. */
export function validOrder(
  input: OrderInput,
  products: ReadonlyMap<string, Product>,
  quirks: Readonly<Quirks>,
): ValidOrder {
  const product = knownProduct(products, input.pricelist);
  const period = validPeriod(product, input.period);
  const ip = storedIp(validIp(input.ip), quirks);
  const licname = storedName(validName(input.licname), quirks);
  const nodes = validNodes(product, input.addons ?? {});
  const autoprolong = validAutoprolong(input.autoprolong);
  return { ip, licname, product, period, nodes, autoprolong };
}

/** The tariff behind a `pricelist` parameter. */
export function knownProduct(products: ReadonlyMap<string, Product>, pricelist: string | undefined): Product {
  const product = pricelist === undefined ? undefined : products.get(pricelist);
  if (!product) throw new SandboxError("value", "pricelist", "Unknown tariff", pricelist ?? "");
  return product;
}

/** The tariff a licence is renewed on: one the vendor no longer sells cannot be. */
export function renewableProduct(
  products: ReadonlyMap<string, Product>,
  licence: { id: string; pricelist: string },
): Product {
  const product = products.get(licence.pricelist);
  if (!product) {
    throw new SandboxError("access", "service.prolong", "The tariff of this licence is not sold", licence.id);
  }
  return product;
}

/** A `period` parameter: months the tariff is sold for. */
export function validPeriod(product: Product, text: string | undefined): number {
  const period = text !== undefined && /^\d{1,3}$/.test(text) ? Number(text) : Number.NaN;
  if (!sellsPeriod(product, period)) {
    throw new SandboxError(
      "value",
      "period",
      `Invalid period; this tariff is sold for ${periodsOf(product).join(", ")} months`,
      text ?? "",
    );
  }
  return period;
}

export function validIp(value: string | undefined, field = "ip"): string {
  // Zone ids (fe80::1%eth0) name a local interface, never a licensable address.
  if (value === undefined || value.includes("%") || isIP(value) === 0) {
    throw new SandboxError("value", field, "The value of the 'IP address' field is invalid", value ?? "");
  }
  return value;
}

export function validName(value: string | undefined): string {
  if (value === undefined || value.trim() === "") {
    throw new SandboxError("value", "licname", "The licence name is required", value ?? "");
  }
  if ([...value].length > MAX_LICNAME_LENGTH || CONTROL_CHARS.test(value)) {
    throw new SandboxError(
      "value",
      "licname",
      `The licence name must be at most ${MAX_LICNAME_LENGTH} printable characters`,
      value,
    );
  }
  return value;
}

/** Cluster nodes from the `addon_<id>` parameters: only the tariff's own addon, its default where blank. */
export function validNodes(product: Product, addons: Readonly<Record<string, string>>): number | null {
  const own = product.addon ? `addon_${product.addon.id}` : undefined;
  // A form field left blank counts as not sent.
  for (const [name, value] of Object.entries(addons)) {
    if (name !== own && value !== "")
      throw new SandboxError("value", name, "This tariff has no such addon", value);
  }
  if (!product.addon || own === undefined) return null;
  const text = addons[own];
  if (text === undefined || text === "") return product.addon.defaultCount;
  const nodes = /^\d{1,6}$/.test(text) ? Number(text) : 0;
  if (nodes < 1) throw new SandboxError("value", own, "The number of nodes must be a positive integer", text);
  return nodes;
}

/**
 * The nodes a licence holding `current` nodes would have on `product`: only the tariff's own addon is
 * accepted (as an order's); when it is not sent (or blank), the licence keeps its nodes, or gets the
 * tariff's default if it had none. Null for a tariff without an addon.
 */
export function validChangeNodes(
  product: Product,
  addons: Readonly<Record<string, string>>,
  current: number | null,
): number | null {
  const nodes = validNodes(product, addons);
  if (nodes === null || !product.addon) return null;
  const sent = addons[`addon_${product.addon.id}`];
  return sent === undefined || sent === "" ? (current ?? nodes) : nodes;
}

export function validAutoprolong(value: string | undefined): Autoprolong {
  if (value === undefined || value === "null") return null;
  if (value === "1" || value === "12") return value;
  throw new SandboxError("value", "autoprolong", "Auto-renewal must be 1, 12 or null", value);
}

/** The IP as the vendor keeps it. */
export function storedIp(ip: string, quirks: Readonly<Quirks>): string {
  return quirks.normaliseIp ? canonicalIpv6(ip) : ip;
}

/** The name as the vendor keeps it (the length check counts code points, which this keeps). */
export function storedName(name: string, quirks: Readonly<Quirks>): string {
  return quirks.normaliseNames ? storableText(name) : name;
}

// ---- a licence seeded into the book (tests and the control endpoint) -----------------------------

export function validSeedPeriod(product: Product, period: number): number {
  if (!sellsPeriod(product, period))
    throw new SandboxError("value", "period", "Invalid period", String(period));
  return period;
}

export function validStatus(status: StatusCode): StatusCode {
  if (!STATUSES.includes(status)) throw new SandboxError("value", "status", "Invalid status", String(status));
  return status;
}

/** The seeded nodes: the tariff's default where not given, none where it has no addon. */
export function validSeedNodes(product: Product, nodes: number | null | undefined): number | null {
  const count = product.addon ? (nodes ?? product.addon.defaultCount) : null;
  if (count !== null && !(Number.isSafeInteger(count) && count > 0)) {
    throw new SandboxError("value", `addon_${product.addon?.id}`, "Invalid number of nodes", String(count));
  }
  return count;
}

export function validLicenceId(id: string): string {
  if (!/^[1-9]\d{0,15}$/.test(id)) throw new SandboxError("value", "id", "Invalid licence id", id);
  return id;
}

export function validDates(dates: ReadonlyArray<readonly [field: string, value: string]>): void {
  for (const [field, value] of dates) {
    if (!isIsoDate(value)) throw new SandboxError("value", field, "Invalid date", value);
  }
}

export function validKey(key: string | undefined): void {
  if (key !== undefined && !/^([0-9a-f]{20})?$/.test(key)) {
    throw new SandboxError("value", "key", "A key is 20 lowercase hex characters", key);
  }
}
