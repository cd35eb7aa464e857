import type { LicencePage, LicenceStore } from "../ports/licence-store.ts";
import type { LicenceListQuery } from "./inputs.ts";

/** The register's licences, by status or expiry, a page at a time: never the vendor, never a scan. */
export function listLicences(store: LicenceStore, query: LicenceListQuery): Promise<LicencePage> {
  return store.list({
    status: query.status,
    expiresBefore: query.expiresBefore,
    limit: query.limit,
    cursor: query.cursor,
  });
}
