import type { BillingClient } from "../billmgr/client.ts";
import type { LicenceSummary } from "../billmgr/licence.ts";
import type { Catalogue } from "../catalogue/index.ts";
import type { IsoDate } from "../dates.ts";
import { recordFromVendor } from "../licences/records.ts";
import type { LicenceRecord, LicenceStore } from "../register/types.ts";
import { mapLimit } from "./limit.ts";

export interface SyncDeps {
  billing: BillingClient;
  licences: LicenceStore;
  catalogue: Catalogue;
  vendorConcurrency: number;
  registerConcurrency: number;
}

/** What changed in one licence, for the alerts that follow. */
export interface Change {
  before: LicenceRecord | undefined;
  after: LicenceRecord;
  /** The form could not be read; the list row was used. */
  detailError?: string;
}

export interface SyncResult {
  /** The register after the sync, by id. */
  records: Map<string, LicenceRecord>;
  listed: number;
  added: Change[];
  updated: Change[];
  gone: Change[];
  unchanged: number;
  writes: number;
}

/** Every licence in the register, through the expiry index (a query, a page at a time). */
export async function allLicences(store: LicenceStore): Promise<Map<string, LicenceRecord>> {
  const records = new Map<string, LicenceRecord>();
  let cursor: string | undefined;
  do {
    const page = await store.list({ limit: 1000, cursor });
    for (const record of page.items) records.set(record.id, record);
    cursor = page.cursor;
  } while (cursor);
  return records;
}

function differs(row: LicenceSummary, record: LicenceRecord): boolean {
  return (
    record.goneSince !== undefined ||
    record.formPending === true ||
    row.name !== record.name ||
    row.ip !== record.ip ||
    row.pricelist !== record.pricelist ||
    row.period !== record.period ||
    row.statusCode !== record.statusCode ||
    row.expiresOn !== record.expiresOn
  );
}

/** The list row as a record, when the licence's form cannot be read: what we knew stays. */
function fromRow(
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

/**
 * Brings the register in line with the vendor's list: new licences appear (autoRenew off), changed ones
 * are re-read from their form and updated, vanished ones are marked gone (never dropped), and an
 * unchanged licence costs no write. The list must already be read: a vendor that cannot list is the
 * caller's failure to report.
 */
export async function syncRegister(
  deps: SyncDeps,
  listed: LicenceSummary[],
  night: IsoDate,
  at: Date,
): Promise<SyncResult> {
  const records = await allLicences(deps.licences);
  const seen = new Set<string>();
  const toRead: Array<{ row: LicenceSummary; before: LicenceRecord | undefined }> = [];
  let unchanged = 0;
  for (const row of listed) {
    seen.add(row.id);
    const before = records.get(row.id);
    if (before && !differs(row, before)) unchanged++;
    else toRead.push({ row, before });
  }

  // Only new and changed licences cost a vendor read; a deleted one has no form left to read. Each is
  // written as soon as it is read, so a run cut short (the first night of a large fleet) keeps what it
  // did and its retry carries on from there.
  const changes = await mapLimit(toRead, deps.vendorConcurrency, async ({ row, before }): Promise<Change> => {
    const change = await readForm(row, before);
    await deps.licences.put(change.after);
    records.set(change.after.id, change.after);
    return change;
  });

  async function readForm(row: LicenceSummary, before: LicenceRecord | undefined): Promise<Change> {
    if (row.status === "deleted") return { before, after: fromRow(row, before, deps.catalogue, at) };
    try {
      const details = await deps.billing.get(row.id);
      return { before, after: recordFromVendor(details, deps.catalogue, before?.autoRenew ?? null, at) };
    } catch (error) {
      return {
        before,
        after: fromRow(row, before, deps.catalogue, at),
        detailError: (error as Error).message,
      };
    }
  }

  const gone: Change[] = [];
  for (const before of records.values()) {
    if (!seen.has(before.id) && before.goneSince === undefined) {
      gone.push({ before, after: { ...before, goneSince: night, updatedAt: at.toISOString() } });
    }
  }
  await mapLimit(gone, deps.registerConcurrency, (change) => deps.licences.put(change.after));
  for (const change of gone) records.set(change.after.id, change.after);
  const writes = changes.length + gone.length;

  return {
    records,
    listed: listed.length,
    added: changes.filter((c) => c.before === undefined),
    updated: changes.filter((c) => c.before !== undefined),
    gone,
    unchanged,
    writes,
  };
}
