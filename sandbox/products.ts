import type { IsoDate } from "../shared/domain/dates.ts";

/**
 * The vendor's own lifecycle for a product line. Dates are inclusive "from" days, compared as
 * `YYYY-MM-DD` strings against the sandbox clock's UTC date.
 */
export interface Lifecycle {
  /** From this day no licence may run past `latestExpiry`. */
  readonly cappedFrom: IsoDate;
  readonly latestExpiry: IsoDate;
  /** From this day orders and renewals are refused. */
  readonly closedFrom: IsoDate;
}

/** Prices in minor units (cents) per period in months; the keys are the periods the tariff sells. */
export type PriceTable = Readonly<Record<number, number>>;

export interface Addon {
  /** The vendor's addon id; the order parameter is `addon_<id>`. */
  readonly id: string;
  readonly name: string;
  /** Price of one unit for each period. */
  readonly prices: PriceTable;
  readonly defaultCount: number;
}

export interface Product {
  readonly pricelist: string;
  readonly name: string;
  /**
   * The product line: the vendor keeps one live licence per IP and line, so an ISPmanager 6 licence may
   * share the IP of an ISPmanager 5 one (the vendor's move from 5 to 6). Products that name none share one.
   */
  readonly generation?: string;
  readonly prices: PriceTable;
  readonly addon?: Addon;
  readonly lifecycle?: Lifecycle;
}

export const ISPMANAGER5_LIFECYCLE: Lifecycle = {
  cappedFrom: "2021-04-08",
  latestExpiry: "2021-12-31",
  closedFrom: "2021-06-15",
};

/** The billing sells 1, 3, 6 and 12 months; 3 and 6 cost that many months, 12 has its own price. */
export function standardPrices(monthly: number, yearly: number): PriceTable {
  return { 1: monthly, 3: monthly * 3, 6: monthly * 6, 12: yearly };
}

export const DEFAULT_PRODUCTS: readonly Product[] = [
  {
    pricelist: "3541",
    name: "ISPmanager 5 Lite",
    generation: "ispmanager5",
    prices: standardPrices(600, 6000),
    lifecycle: ISPMANAGER5_LIFECYCLE,
  },
  {
    pricelist: "4601",
    name: "ISPmanager 5 Business",
    generation: "ispmanager5",
    prices: standardPrices(1400, 14000),
    addon: { id: "4602", name: "Cluster nodes", prices: standardPrices(300, 3000), defaultCount: 1 },
    lifecycle: ISPMANAGER5_LIFECYCLE,
  },
  // ISPmanager 6: no lifecycle dates; the codes are the vendor's reselling docs' (they differ by country).
  {
    pricelist: "55227",
    name: "ISPmanager 6 Lite",
    generation: "ispmanager6",
    prices: standardPrices(700, 7000),
  },
  {
    pricelist: "55228",
    name: "ISPmanager 6 Pro",
    generation: "ispmanager6",
    prices: standardPrices(1100, 11000),
  },
  {
    pricelist: "55229",
    name: "ISPmanager 6 Host",
    generation: "ispmanager6",
    prices: standardPrices(2100, 21000),
  },
  {
    pricelist: "55230",
    name: "ISPmanager 6 Business",
    generation: "ispmanager6",
    prices: standardPrices(1600, 16000),
    addon: { id: "55236", name: "Cluster nodes", prices: standardPrices(300, 3000), defaultCount: 1 },
  },
];

/** The product's line (products that name none share one). */
export const generationOf = (product: Product | undefined): string => product?.generation ?? "";

export function periodsOf(product: Product): number[] {
  return Object.keys(product.prices)
    .map(Number)
    .sort((a, b) => a - b);
}

export function sellsPeriod(product: Product, period: number): boolean {
  return (
    Object.hasOwn(product.prices, period) && (!product.addon || Object.hasOwn(product.addon.prices, period))
  );
}

/** What one period of the licence costs, nodes included; undefined when the tariff does not sell it. */
export function priceOf(product: Product, period: number, nodes: number): number | undefined {
  if (!sellsPeriod(product, period)) return undefined;
  const base = product.prices[period] ?? 0;
  const addon = product.addon ? (product.addon.prices[period] ?? 0) * nodes : 0;
  return base + addon;
}
