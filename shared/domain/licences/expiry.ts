import { expiryCap, type Product } from "../catalogue/catalogue.ts";
import type { IsoDate } from "../dates.ts";

export { expectedExpiry } from "../catalogue/catalogue.ts";

/** Whether a renewal today can extend the licence at all (the vendor refuses one already at its cap). */
export function atCap(
  product: Product | undefined,
  expiresOn: IsoDate | undefined,
  today: IsoDate,
): IsoDate | undefined {
  const cap = product ? expiryCap(product, today) : undefined;
  return cap !== undefined && expiresOn !== undefined && expiresOn >= cap ? cap : undefined;
}
