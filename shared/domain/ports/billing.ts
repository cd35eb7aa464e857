import type { IsoDate } from "../dates.ts";

/**
 * The vendor's billing functions, as the domain sees them: the port the desk and the watcher depend on,
 * with the licences it answers. The billmgr adapter (shared/adapters/billmgr/) implements it.
 */

export interface CallOptions {
  /**
   * Epoch ms by which the call, retries included, must be over: the caller's own budget (a route under
   * API Gateway's 29 s, a Lambda's remaining time). Each attempt gets min(timeoutMs, what is left).
   */
  deadlineMs?: number;
}

export type LicenceStatus = "ordered" | "active" | "suspended" | "deleted" | "processing" | "unknown";

/** A row of the vendor's licence list (`func=soft`). */
export interface LicenceSummary {
  id: string;
  name: string;
  ip: string;
  pricelist: string;
  period: number | undefined;
  status: LicenceStatus;
  /** The vendor's raw status, sub-state included (`5_prolong`). */
  statusCode: string;
  expiresOn: IsoDate | undefined;
  createdOn: IsoDate | undefined;
  /** The last key change (`real_keychange` in the list): a key regenerated in the vendor's panel shows here. */
  keyChangedOn: IsoDate | undefined;
}

/**
 * The vendor's licence list (`func=soft`, every page), and whether it is provably the whole list. Only a
 * complete list may say a licence is not there: an order "not placed", a licence "gone". A list that is
 * not complete still holds real rows (each is a licence the vendor has).
 */
export interface LicenceList {
  /** Each licence once, in the order the vendor listed them. */
  rows: LicenceSummary[];
  /**
   * The rows account for the vendor's count (`p_elems`, the same on every page); without a count, the
   * pages ended with a short or empty one and no page repeated a licence of an earlier one.
   */
  complete: boolean;
  /** Why it could not be proven complete (only when `complete` is false). */
  incomplete?: string;
}

/** The licence form (`soft.edit` without `sok`): the list's fields plus what only the form carries. */
export interface LicenceDetails extends LicenceSummary {
  /** Empty for a while right after an order. */
  key: string | undefined;
  remoteIp: string | undefined;
  /** Add-on quantities by vendor field (`addon_4602`: cluster nodes of Business). */
  addons: Record<string, number>;
  ipChangedOn: IsoDate | undefined;
}

export type Period = 1 | 3 | 6 | 12;

export type AutoProlong = 1 | 12 | null;

export interface OrderRequest {
  ip: string;
  name: string;
  pricelist: string;
  period: Period;
  /** Add-on quantities by vendor field, e.g. `{ addon_4602: 2 }` for Business cluster nodes. */
  addons?: Record<string, number>;
  autoprolong: AutoProlong;
}

/** A tariff change of one licence, within its product line (`service.changepricelist`). */
export interface ProductChangeRequest {
  pricelist: string;
  /** The licence's own period: the vendor's form asks for one. */
  period: Period;
  /** Add-on quantities of the new tariff by vendor field (its cluster nodes). */
  addons?: Record<string, number>;
}

export interface CheckIpRequest {
  ip: string;
  pricelist: string;
  period: Period;
}

export type IpAvailability =
  | { available: true }
  | { available: false; reason: string; type: string; object: string | undefined };

export interface Balance {
  /** In the currency's minor unit (cents), so forecasts add up exactly. */
  minor: number;
  currency: string | undefined;
  /** As the vendor wrote it. */
  text: string;
}

/**
 * The vendor's licence functions, one method each; the port the domain depends on.
 * Every method takes an optional `opts.deadlineMs` (epoch ms): the whole method, every vendor call and
 * retry in it, ends by then; a call that no longer has time is not sent (a timeout, outcome "not_applied").
 */
export interface BillingClient {
  order(request: OrderRequest, opts?: CallOptions): Promise<{ id: string }>;
  prolong(id: string, period: Period, opts?: CallOptions): Promise<{ newExpiry: IsoDate | undefined }>;
  /** Charges the balance: a tariff change within the licence's product line; its expiry stays. */
  changeProduct(id: string, change: ProductChangeRequest, opts?: CallOptions): Promise<void>;
  edit(id: string, change: { name?: string; ip?: string }, opts?: CallOptions): Promise<void>;
  regenerateKey(id: string, opts?: CallOptions): Promise<{ key: string | undefined }>;
  suspend(id: string, opts?: CallOptions): Promise<void>;
  resume(id: string, opts?: CallOptions): Promise<void>;
  delete(id: string, opts?: CallOptions): Promise<void>;
  checkIp(request: CheckIpRequest, opts?: CallOptions): Promise<IpAvailability>;
  /** Every page of the licence list; `complete` says whether it is provably all of it. */
  list(opts?: CallOptions): Promise<LicenceList>;
  get(id: string, opts?: CallOptions): Promise<LicenceDetails>;
  /** Undefined where the configured function reports no balance. */
  balance(opts?: CallOptions): Promise<Balance | undefined>;
}

const STATUS: Record<string, LicenceStatus> = {
  "1": "ordered",
  "2": "active",
  "3": "suspended",
  "4": "deleted",
  "5": "processing",
};

/** 0, anything unknown, or a missing value is "unknown"; `5_open` is processing. */
export function statusFromCode(code: string | undefined): LicenceStatus {
  if (!code) return "unknown";
  return STATUS[code.split("_")[0] ?? ""] ?? "unknown";
}
