import { type IsoDate, parseVendorDate } from "../dates.ts";
import { children, field, type VendorElement, type VendorNode } from "./document.ts";

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

function toInt(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

/** Reads a list row or a form; undefined for the data-less `<elem/>` rows the vendor sends. */
export function readSummary(node: VendorNode): LicenceSummary | undefined {
  const id = field(node, "id") ?? field(node, "elid");
  if (id === undefined) return undefined;
  const statusCode = field(node, "status") ?? "";
  return {
    id,
    name: field(node, "licname") ?? field(node, "name") ?? "",
    ip: field(node, "ip") ?? "",
    pricelist: field(node, "pricelist_id") ?? field(node, "pricelist") ?? "",
    period: toInt(field(node, "period")),
    status: statusFromCode(statusCode),
    statusCode,
    expiresOn: parseVendorDate(field(node, "expiredate")),
    createdOn: parseVendorDate(field(node, "createdate")),
    keyChangedOn: parseVendorDate(field(node, "real_keychange") ?? field(node, "lickey_change_date")),
  };
}

export function readDetails(doc: VendorElement): LicenceDetails | undefined {
  const summary = readSummary(doc);
  if (summary === undefined) return undefined;
  return {
    ...summary,
    key: field(doc, "lickey"),
    remoteIp: field(doc, "remoteip"),
    addons: readAddons(doc),
    ipChangedOn: parseVendorDate(field(doc, "ip_change_date")),
  };
}

export function readList(doc: VendorElement): LicenceSummary[] {
  return children(doc, "elem")
    .map(readSummary)
    .filter((row): row is LicenceSummary => row !== undefined);
}

function readAddons(doc: VendorElement): Record<string, number> {
  const addons: Record<string, number> = {};
  for (const name of Object.keys(doc)) {
    const quantity = name.startsWith("addon_") ? toInt(field(doc, name)) : undefined;
    if (quantity !== undefined) addons[name] = quantity;
  }
  return addons;
}
