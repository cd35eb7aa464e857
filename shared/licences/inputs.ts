import type { AutoRenew } from "../register/types.ts";

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

export interface RenewInput {
  period: 1 | 12;
}

export interface UpdateInput {
  name?: string | undefined;
  ip?: string | undefined;
  autoRenew?: AutoRenew | undefined;
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
