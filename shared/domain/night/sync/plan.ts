import type { LicenceList, LicenceSummary } from "../../ports/billing.ts";
import type { LicenceRecord } from "../../ports/licence-store.ts";

/** A listed licence whose form is read tonight; `before` is undefined for one new to the register. */
export interface FormRead {
  row: LicenceSummary;
  before: LicenceRecord | undefined;
}

/** What the sync has to do, from the vendor's list and the register alone: no vendor read, no write. */
export interface SyncPlan {
  /** New, changed and keyless licences, in the list's order: only these cost a vendor read. */
  toRead: FormRead[];
  /** Listed licences the register already has as the list shows them. */
  unchanged: number;
  /**
   * Licences the register has and the list does not, not marked gone yet: to mark gone tonight. None
   * from a list not provably complete, for a licence missing from a partial list may still be there.
   */
  gone: LicenceRecord[];
}

export function planSync(records: ReadonlyMap<string, LicenceRecord>, list: LicenceList): SyncPlan {
  const seen = new Set<string>();
  const toRead: FormRead[] = [];
  let unchanged = 0;
  for (const row of list.rows) {
    seen.add(row.id);
    const before = records.get(row.id);
    if (before && !needsForm(row, before)) unchanged++;
    else toRead.push({ row, before });
  }
  const gone = list.complete
    ? [...records.values()].filter((r) => !seen.has(r.id) && r.goneSince === undefined)
    : [];
  return { toRead, unchanged, gone };
}

/** The list row says something the register does not. */
export function rowDiffers(row: LicenceSummary, record: LicenceRecord): boolean {
  return (
    row.name !== record.name ||
    row.ip !== record.ip ||
    row.pricelist !== record.pricelist ||
    row.period !== record.period ||
    row.statusCode !== record.statusCode ||
    row.expiresOn !== record.expiresOn
  );
}

/**
 * Whether the licence's form must be read tonight: the list row differs, or the register lacks what
 * only the form carries. The list has no key, so a licence without one (the vendor issues it a while
 * after the order) is read every night until its key arrives. A key regenerated in the vendor's panel
 * is seen only where the list row carries the date of the last key change (`real_keychange`, read into
 * `keyChangedOn` by a billing client that parses it): then a change on or after our last read of the
 * licence makes us read it. Without that date a re-key in the panel reaches the register only with the
 * licence's next change, a `GET /licenses/{id}?refresh=true`, or a re-key through the API.
 */
function needsForm(row: LicenceSummary, record: LicenceRecord): boolean {
  if (record.goneSince !== undefined || record.formPending === true || rowDiffers(row, record)) return true;
  if (row.status === "deleted") return false;
  if (!record.key) return true;
  return keyChangedSinceRead(row, record);
}

/** The list row dates a key change on or after the day the register last read the licence's form. */
export function keyChangedSinceRead(row: LicenceSummary, record: LicenceRecord): boolean {
  const { keyChangedOn } = row;
  return (
    keyChangedOn !== undefined &&
    (record.syncedAt === undefined || keyChangedOn >= record.syncedAt.slice(0, 10))
  );
}
