import { addMonths, daysBetween, type IsoDate } from "../shared/domain/dates.ts";
import { SandboxError } from "./errors.ts";
import { type Product, periodsOf, priceOf } from "./products.ts";
import { knownProduct, type OrderInput, validNodes, validPeriod } from "./validation.ts";

/*
 * What an order or a renewal costs and how long it runs, from the tariff, its lifecycle and the day:
 * the book and the account are the state's.
 */

export interface OrderQuote {
  product: Product;
  period: number;
  nodes: number | null;
  priceMinor: number;
}

export function formatMinor(minor: number): string {
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(Math.trunc(minor));
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/** One period of a licence of the tariff, nodes included. */
export function priceMinor(product: Product, period: number, nodes: number | null): number {
  return priceOf(product, period, nodes ?? 0) ?? 0;
}

/** The price of an order form; only the fields given are checked. */
export function quoteOrder(products: ReadonlyMap<string, Product>, input: OrderInput): OrderQuote {
  const product = knownProduct(products, input.pricelist);
  const period =
    input.period === undefined ? (periodsOf(product)[0] ?? 1) : validPeriod(product, input.period);
  const nodes = validNodes(product, input.addons ?? {});
  return { product, period, nodes, priceMinor: priceMinor(product, period, nodes) };
}

/** Refused (`value`/`pricelist`) once the tariff's line closes orders. */
export function assertOnSale(product: Product, today: IsoDate): void {
  const lifecycle = product.lifecycle;
  if (lifecycle && today >= lifecycle.closedFrom) {
    throw new SandboxError(
      "value",
      "pricelist",
      "The tariff is no longer available for order",
      product.pricelist,
    );
  }
}

/** The expiry of a licence ordered today, capped by its line's lifecycle; refused once orders close. */
export function orderExpiry(product: Product, period: number, today: IsoDate): IsoDate {
  assertOnSale(product, today);
  const lifecycle = product.lifecycle;
  const expiry = addMonths(today, period);
  if (lifecycle && today >= lifecycle.cappedFrom && expiry > lifecycle.latestExpiry) {
    return lifecycle.latestExpiry;
  }
  return expiry;
}

/**
 * The expiry a renewal today leads to, from the current one, capped by the line's lifecycle; refused
 * once renewals close, or when the licence already runs to the cap.
 */
export function renewalExpiry(
  licence: { id: string; expiredate: IsoDate },
  product: Product,
  period: number,
  today: IsoDate,
): IsoDate {
  const lifecycle = product.lifecycle;
  const expiry = addMonths(licence.expiredate, period);
  if (!lifecycle) return expiry;
  if (today >= lifecycle.closedFrom) {
    throw new SandboxError(
      "access",
      "service.prolong",
      `${product.name} licences can no longer be renewed (renewals closed on ${lifecycle.closedFrom})`,
      licence.id,
    );
  }
  if (today < lifecycle.cappedFrom) return expiry;
  if (licence.expiredate >= lifecycle.latestExpiry) {
    throw new SandboxError(
      "access",
      "service.prolong",
      `The licence already runs to ${licence.expiredate}; ${product.name} licences cannot run past ${lifecycle.latestExpiry}`,
      licence.id,
    );
  }
  if (expiry > lifecycle.latestExpiry) return lifecycle.latestExpiry;
  return expiry;
}

/** One side of a tariff change: the tariff and its addon units (null without an addon). */
export interface TariffSide {
  product: Product;
  nodes: number | null;
}

/**
 * The sandbox's assumption, since the vendor documents no pricing for a tariff change.
 * What `service.changepricelist` charges today: one `period`'s price of the new tariff minus the old
 * one's (at its own nodes), times the days left to the expiry over the days of the period that ends
 * on it (expiry minus `period` months to expiry), rounded to the nearest minor unit. A downgrade
 * (negative difference) or a change on or after the expiry day costs 0: nothing is refunded. Days left
 * beyond one period (a licence renewed ahead) are charged for too.
 */
export function tariffChangeMinor(
  from: TariffSide,
  to: TariffSide,
  period: number,
  expiredate: IsoDate,
  today: IsoDate,
): number {
  const difference = priceMinor(to.product, period, to.nodes) - priceMinor(from.product, period, from.nodes);
  const daysLeft = daysBetween(today, expiredate);
  const periodDays = daysBetween(addMonths(expiredate, -period), expiredate);
  if (difference <= 0 || daysLeft <= 0 || periodDays <= 0) return 0;
  return Math.round((difference * daysLeft) / periodDays);
}

/** A debit the balance cannot cover is refused, naming the price. */
export function assertAffordable(priceMinor: number, balanceMinor: number, currency: string): void {
  if (priceMinor > balanceMinor) {
    throw new SandboxError(
      "balance",
      "account",
      "Insufficient funds on the account balance",
      `${formatMinor(priceMinor)} ${currency}`,
    );
  }
}
