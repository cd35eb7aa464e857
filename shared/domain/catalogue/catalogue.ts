import * as v from "valibot";
import { addMonths, type IsoDate, isIsoDate } from "../dates.ts";
import defaults from "./products.json" with { type: "json" };

const Day = v.pipe(v.string(), v.check(isIsoDate, "must be a YYYY-MM-DD date"));
const Period = v.picklist([1, 3, 6, 12]);
const Costs = v.record(
  v.pipe(v.string(), v.regex(/^(1|3|6|12)$/)),
  v.pipe(v.number(), v.integer(), v.minValue(0)),
);

/** The vendor's own dates for a product line; every one is optional (ISPmanager 6 has none yet). */
const Lifecycle = v.object({
  /** From this day no licence may run past `lastValidDay` (orders and renewals are capped). */
  capFrom: v.optional(Day),
  lastValidDay: v.optional(Day),
  /** First day the vendor refuses new orders. */
  salesCloseOn: v.optional(Day),
  /** First day the vendor refuses renewals. */
  renewalsCloseOn: v.optional(Day),
  /** First day without support and updates. */
  supportEndsOn: v.optional(Day),
});

const Product = v.object({
  id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,62}$/)),
  title: v.pipe(v.string(), v.minLength(1)),
  /**
   * The product line (`ispmanager5`): the vendor keeps one live licence per IP and generation, so the
   * desk keeps one order in flight per IP and generation. Each product its own line where not given.
   */
  generation: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,62}$/))),
  pricelist: v.pipe(v.string(), v.regex(/^\d+$/)),
  periods: v.pipe(v.array(Period), v.minLength(1)),
  /** Cluster nodes, sent to the vendor as an add-on field; null where the product has none. */
  nodes: v.nullable(
    v.object({
      addon: v.pipe(v.string(), v.regex(/^addon_\d+$/)),
      min: v.pipe(v.number(), v.integer(), v.minValue(1)),
      max: v.pipe(v.number(), v.integer(), v.minValue(1)),
      costMinor: Costs,
    }),
  ),
  /** What the reseller pays the vendor per period, in minor units: the watcher's balance forecast. */
  costMinor: Costs,
  lifecycle: Lifecycle,
  /** The product of a later generation a licence of this one moves to (ISPmanager 5 Lite: 6 Lite). */
  successor: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,62}$/))),
});

const CatalogueData = v.object({
  currency: v.pipe(v.string(), v.regex(/^[A-Z]{3}$/)),
  products: v.pipe(v.array(Product), v.minLength(1)),
});

export type Product = v.InferOutput<typeof Product>;
export type Lifecycle = v.InferOutput<typeof Lifecycle>;

export interface Catalogue {
  currency: string;
  products: readonly Product[];
  byId(id: string): Product | undefined;
  byPricelist(pricelist: string): Product | undefined;
}

/**
 * The product list is data: the bundled products.json, or a whole replacement in the
 * CATALOGUE_JSON environment variable (a CDK context value in AWS), so adding a product
 * needs no code change.
 */
export function loadCatalogue(json?: string): Catalogue {
  const raw: unknown = json === undefined ? defaults : JSON.parse(json);
  const result = v.safeParse(CatalogueData, raw);
  if (!result.success) {
    const problems = result.issues.map((i) => `${v.getDotPath(i) ?? "?"}: ${i.message}`);
    throw new Error(`invalid product catalogue: ${problems.join("; ")}`);
  }
  const { currency, products } = result.output;
  const ids = new Set(products.map((p) => p.id));
  const pricelists = new Set(products.map((p) => p.pricelist));
  if (ids.size !== products.length || pricelists.size !== products.length) {
    throw new Error("invalid product catalogue: product ids and pricelists must be unique");
  }
  for (const product of products) {
    if (product.successor === undefined) continue;
    const next = products.find((p) => p.id === product.successor);
    if (!next)
      throw new Error(
        `invalid product catalogue: ${product.id}'s successor ${product.successor} is not in the catalogue`,
      );
    if (generationOf(next) === generationOf(product))
      throw new Error(
        `invalid product catalogue: ${product.id}'s successor ${next.id} is of its own generation (${generationOf(product)}): a successor is of a later one`,
      );
  }
  return {
    currency,
    products,
    byId: (id) => products.find((p) => p.id === id),
    byPricelist: (pricelist) => products.find((p) => p.pricelist === pricelist),
  };
}

export function ordersOpen(product: Product, today: IsoDate): boolean {
  const close = product.lifecycle.salesCloseOn;
  return close === undefined || today < close;
}

export function renewalsOpen(product: Product, today: IsoDate): boolean {
  const close = product.lifecycle.renewalsCloseOn;
  return close === undefined || today < close;
}

/** The latest expiry the vendor allows for an order or renewal placed today, if capped. */
export function expiryCap(product: Product, today: IsoDate): IsoDate | undefined {
  const { capFrom, lastValidDay } = product.lifecycle;
  return capFrom !== undefined && lastValidDay !== undefined && today >= capFrom ? lastValidDay : undefined;
}

/**
 * The expiry a renewal of `period` months leads to, as the vendor computes it: from the current expiry
 * (even a lapsed one), trimmed to the product's cap on that day. The one place this is computed: the
 * renewal's evidence is this exact date, and every mail tells it.
 */
export function expectedExpiry(
  product: Product | undefined,
  expiresOn: IsoDate,
  period: number,
  today: IsoDate,
): IsoDate {
  const extended = addMonths(expiresOn, period);
  const cap = product ? expiryCap(product, today) : undefined;
  return cap !== undefined && extended > cap ? cap : extended;
}

/** The product's line: its `generation`, or its own id where the catalogue names none. */
export function generationOf(product: Pick<Product, "id" | "generation">): string {
  return product.generation ?? product.id;
}
