import type { LicenceDetails } from "../billmgr/licence.ts";
import type { Catalogue } from "../catalogue/index.ts";
import type { AutoRenew, LicenceRecord } from "../register/types.ts";

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
