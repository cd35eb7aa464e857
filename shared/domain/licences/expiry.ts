import { expiryCap, type Product } from "../catalogue/catalogue.ts";
import { addMonths, type IsoDate } from "../dates.ts";

/**
 * The expiry a renewal of `period` months leads to, as the vendor computes it: from the current expiry
 * (even a lapsed one), trimmed to the product's cap on that day. The one place this is computed: the
 * renewal's evidence is this exact date.
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

/** Whether a renewal today can extend the licence at all (the vendor refuses one already at its cap). */
export function atCap(
  product: Product | undefined,
  expiresOn: IsoDate | undefined,
  today: IsoDate,
): IsoDate | undefined {
  const cap = product ? expiryCap(product, today) : undefined;
  return cap !== undefined && expiresOn !== undefined && expiresOn >= cap ? cap : undefined;
}
