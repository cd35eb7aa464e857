import { parseVendorDate } from "../../domain/dates.ts";
import { type LicenceDetails, type LicenceSummary, statusFromCode } from "../../domain/ports/billing.ts";
import { children, field, type VendorElement, type VendorNode } from "./document.ts";

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
