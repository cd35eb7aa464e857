import type { IsoDate } from "../../dates.ts";
import { updateAtVersion } from "../../licences/update-at-version.ts";
import type { DeskWritten, LicenceChanges, LicenceRecord, LicenceStore } from "../../ports/licence-store.ts";
import { suspensionMark } from "../../renewal/renewal-rules.ts";

/** What changed in one licence, for the alerts that follow. */
export interface Change {
  before: LicenceRecord | undefined;
  after: LicenceRecord;
  /** When the vendor's view in `after` began to be read (real clock, ISO): the desk's later writes win. */
  readAt?: string;
  /** The form could not be read; the list row was used. */
  detailError?: string;
  /** The form of a licence written from its list row: filled in, not changed at the vendor. */
  completes?: boolean;
}

/** Called with each change right before it is written (and again when it is decided again). */
export type BeforeWrite = (change: Change) => Promise<void>;

export interface ChangeWriterDeps {
  licences: Pick<LicenceStore, "create" | "get" | "update">;
  beforeWrite?: BeforeWrite | undefined;
  night: IsoDate;
  /** The night's instant, for `updatedAt`. */
  at: Date;
  /** When the list was read (real clock, ISO): the view of a change that was not read from a form. */
  listedAt: string;
}

/** Writes one change; the change as written, undefined when there was nothing to write. */
export type WriteChange = (change: Change, touch: boolean) => Promise<Change | undefined>;

/**
 * The fields the vendor owns, and so the only ones the sync writes. `autoRenew` and `suspendedBy` are
 * ours (the API sets them, at any time of the night): the sync never writes them, so it never undoes them.
 */
const VENDOR_FIELDS = [
  "name",
  "ip",
  "product",
  "pricelist",
  "period",
  "nodes",
  "status",
  "statusCode",
  "expiresOn",
  "createdOn",
  "key",
  "goneSince",
  "formPending",
] as const satisfies readonly (keyof LicenceRecord)[];

/** Which stamp of `deskWrites` covers a vendor field. */
const STAMPED_BY: Partial<Record<(typeof VENDOR_FIELDS)[number], DeskWritten>> = {
  name: "name",
  ip: "ip",
  key: "key",
  status: "status",
  statusCode: "status",
  expiresOn: "expiresOn",
  period: "expiresOn",
  pricelist: "pricelist",
  product: "pricelist",
  nodes: "pricelist",
};

/**
 * The vendor's fields of `after` that differ from `record` (an empty object: nothing to write). A
 * field the desk wrote through its own call after this view was read keeps the desk's value; every
 * other field is the vendor's, whatever else the desk wrote since.
 */
function vendorChanges(record: LicenceRecord, after: LicenceRecord, readAt: string): LicenceChanges {
  const changes: Record<string, unknown> = {};
  for (const field of VENDOR_FIELDS) {
    // A form without a key (not issued yet, or not shown) never removes the key we have.
    if (field === "key" && after.key === undefined) continue;
    const stamp = STAMPED_BY[field];
    const wrote = stamp && record.deskWrites?.[stamp];
    if (wrote !== undefined && wrote > readAt) continue;
    if (after[field] !== record[field]) changes[field] = after[field];
  }
  return changes as LicenceChanges;
}

/**
 * The sync's writer of one change: a new licence is created (unless someone created it meanwhile), a
 * known one updated at the version read, only the vendor's fields that changed, so nothing the API
 * sets during the night is undone. `touch`: write the read's time even when nothing changed.
 */
export function changeWriter(deps: ChangeWriterDeps): WriteChange {
  const { licences, night, at, listedAt } = deps;
  return async (change, touch) => {
    if (change.before === undefined) {
      await deps.beforeWrite?.(change);
      if (await licences.create({ ...change.after, version: undefined })) {
        return { ...change, after: { ...change.after, version: 1 } };
      }
      // Created meanwhile (an order through the API): update it like any other, as it is now.
    }
    const readAt = change.readAt ?? listedAt;
    /** The change the last round decided to write; undefined when it decided to write nothing. */
    let decided: { next: Change; nothing: boolean } | undefined;
    const after = await updateAtVersion(
      licences,
      change.after.id,
      async (before) => {
        decided = undefined;
        // Someone read the vendor's whole form since we did (a refresh, an order's answer): ours is
        // stale for this licence, and tomorrow's read settles it. (The desk's own calls stamp only the
        // fields they wrote: see vendorChanges.)
        if ((before.deskWrites?.form ?? "") > readAt) return undefined;
        const vendor = vendorChanges(before, change.after, readAt);
        const fields = { ...vendor, ...suspensionMark(before, { ...before, ...vendor }, night) };
        const nothing = Object.keys(fields).length === 0;
        // Read only to catch a key change that turned out to be none: remember the read, or the same
        // date makes us read it every night.
        if (nothing && !touch) return undefined;
        const next: Change = { ...change, before, after: { ...before, ...fields } };
        if (!nothing) await deps.beforeWrite?.(next);
        decided = { next, nothing };
        return {
          ...fields,
          // The night's mark, in the same write: a rerun counts from the register, exactly.
          ...(!nothing &&
            change.after.goneSince === undefined &&
            !change.completes && { syncChangedOn: night }),
          syncedAt: change.after.syncedAt,
          updatedAt: at.toISOString(),
        };
      },
      { current: change.before },
    );
    if (after === undefined || decided === undefined || decided.nothing) return undefined;
    return { ...decided.next, after };
  };
}
