import type { AutoRenew, RetireOld } from "../ports/licence-store.ts";

/**
 * What the desk's use cases take, in the domain's own terms. The API's schemas (`shared/api/requests.ts`)
 * validate requests into these shapes (a compile-time check there keeps them in step); the domain never
 * sees an HTTP request.
 */
export interface OrderInput {
  /** Canonical: IPv6 short and lower-case, as the vendor keeps it. */
  ip: string;
  name: string;
  product: string;
  period: 1 | 12;
  nodes?: number | undefined;
  autoRenew: AutoRenew;
}

/** `POST /licenses/{id}/successor`: what is not given comes from the licence and its product. */
export interface SuccessorInput {
  period: 1 | 12;
  /** Default: the catalogue's successor of the licence's product. */
  product?: string | undefined;
  /** Default: the licence's own. */
  autoRenew?: AutoRenew | undefined;
  /** Default: the licence's own (products with nodes). */
  nodes?: number | undefined;
  retireOld: RetireOld;
}

/** `POST /licenses/{id}/change-product`: another tariff of the licence's own product line. */
export interface ChangeProductInput {
  product: string;
  /** Products with nodes: default the licence's own, or the product's least. */
  nodes?: number | undefined;
}

export interface RenewInput {
  period: 1 | 12;
}

export interface UpdateInput {
  name?: string | undefined;
  ip?: string | undefined;
  autoRenew?: AutoRenew | undefined;
  /** A successor the watcher orders on a night; null: none. */
  successor?: PlannedSuccessorInput | null | undefined;
}

export interface PlannedSuccessorInput {
  period: 1 | 12;
  product?: string | undefined;
  on?: string | undefined;
  retireOld: RetireOld;
}

export interface IpQuery {
  ip: string;
  product: string;
  period: 1 | 12;
}

export interface LicenceListQuery {
  status?: "ordered" | "active" | "suspended" | "deleted" | "processing" | "unknown" | undefined;
  expiresBefore?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** Field name → what is wrong with it. */
export type FieldErrors = Record<string, string>;

/**
 * Field errors in an object without a prototype: a field is named by the client (`__proto__`,
 * `constructor`, `toString` are keys like any other), so no name may reach an inherited property, and
 * copying one in never sets a prototype. The first message given for a field is kept.
 */
export function fieldErrors(entries: Iterable<readonly [string, string]>): FieldErrors {
  const fields: FieldErrors = Object.create(null);
  for (const [field, message] of entries) {
    if (!Object.hasOwn(fields, field)) fields[field] = message;
  }
  return fields;
}
