import type { Catalogue, Product } from "../catalogue/catalogue.ts";
import { toIsoDate } from "../dates.ts";
import type { LicenceDetails, LicenceSummary } from "../ports/billing.ts";
import type { AutoRenew, LicenceRecord } from "../ports/licence-store.ts";

/** The register's view of a licence as the vendor's form describes it. */
export function recordFromVendor(
  details: LicenceDetails,
  catalogue: Catalogue,
  autoRenew: AutoRenew,
  at: Date,
): LicenceRecord {
  const product = catalogue.byPricelist(details.pricelist);
  const nodesAddon = product?.nodes?.addon;
  return {
    id: details.id,
    name: details.name,
    ip: details.ip,
    product: product?.id,
    pricelist: details.pricelist,
    period: details.period,
    nodes: nodesAddon ? details.addons[nodesAddon] : undefined,
    status: details.status,
    statusCode: details.statusCode,
    expiresOn: details.expiresOn,
    createdOn: details.createdOn,
    key: details.key,
    autoRenew,
    syncedAt: at.toISOString(),
    updatedAt: at.toISOString(),
  };
}

/**
 * A new licence whose form cannot be read yet: the order's own facts, marked for the next sync to
 * read its form (key, expiry).
 */
export function recordFromOrder(
  order: {
    id: string;
    name: string;
    ip: string;
    period: number;
    nodes: number | undefined;
    autoRenew: AutoRenew;
  },
  product: Pick<Product, "id" | "pricelist">,
  at: Date,
): LicenceRecord {
  return {
    id: order.id,
    name: order.name,
    ip: order.ip,
    product: product.id,
    pricelist: product.pricelist,
    period: order.period,
    nodes: order.nodes,
    status: "processing",
    statusCode: "",
    createdOn: toIsoDate(at),
    autoRenew: order.autoRenew,
    updatedAt: at.toISOString(),
    formPending: true,
  };
}

/** The list row as a record, when the licence's form cannot be read: what we knew stays. */
export function recordFromRow(
  row: LicenceSummary,
  before: LicenceRecord | undefined,
  catalogue: Catalogue,
  at: Date,
): LicenceRecord {
  return {
    ...before,
    id: row.id,
    name: row.name,
    ip: row.ip,
    product: catalogue.byPricelist(row.pricelist)?.id,
    pricelist: row.pricelist,
    period: row.period,
    status: row.status,
    statusCode: row.statusCode,
    expiresOn: row.expiresOn,
    createdOn: row.createdOn ?? before?.createdOn,
    autoRenew: before?.autoRenew ?? null,
    syncedAt: at.toISOString(),
    updatedAt: at.toISOString(),
    goneSince: undefined,
    formPending: row.status === "deleted" ? undefined : true,
  };
}
