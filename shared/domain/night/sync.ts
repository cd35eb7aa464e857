import type { Catalogue } from "../catalogue/catalogue.ts";
import type { IsoDate } from "../dates.ts";
import { recordFromRow, recordFromVendor } from "../licences/records.ts";
import { mapLimit } from "../map-limit.ts";
import type { BillingClient, LicenceList, LicenceSummary } from "../ports/billing.ts";
import type { LicenceRecord, LicenceStore } from "../ports/licence-store.ts";
import { type NightSync, SYNC_NAMED } from "../ports/night-ledger.ts";
import { suspensionMark } from "../renewal/renewal-rules.ts";
import { batchWriter } from "./sync/batch-writer.ts";
import { type Change, changeWriter } from "./sync/change-writer.ts";
import { keyChangedSinceRead, planSync } from "./sync/plan.ts";

export type { Change } from "./sync/change-writer.ts";

export interface SyncDeps {
  billing: BillingClient;
  licences: LicenceStore;
  catalogue: Catalogue;
  vendorConcurrency: number;
  registerConcurrency: number;
  /**
   * The real clock (epoch ms): each read is timed by it, and compared with the desk's own writes,
   * stamped by the same clock (`deskWrites`), never with the replayed night's instant.
   */
  nowMs?: () => number;
  /** When the list was read (real clock); the sync's start when not given. */
  listedAtMs?: number | undefined;
  /**
   * Called with each change right before it is written (and again if a concurrent write makes it
   * decide again): the alerts a change raises are recorded here, so a run killed after the write
   * still leaves them to send.
   */
  beforeWrite?: (change: Change) => Promise<void>;
}

export interface SyncResult {
  /** The register after the sync, by id. */
  records: Map<string, LicenceRecord>;
  listed: number;
  /**
   * What the night's sync changed so far, over every run of it (earlier runs, killed ones included, left
   * their marks on the licences they wrote); `added`, `updated`, `gone` below are this run's writes.
   */
  night: NightSync & { updatedIds: string[] };
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

/**
 * Brings the register in line with the vendor's list: new licences appear (autoRenew off), changed ones
 * are re-read from their form and updated, vanished ones are marked gone (never dropped; and only when
 * the list is provably complete, for a licence missing from a partial list may still be there), and an
 * unchanged licence costs no write. What to read and mark is planned from the list and the register
 * (`sync/plan.ts`); each change is written at the version read (`sync/change-writer.ts`), so nothing
 * the API sets during the night is undone; new licences go in batches (`sync/batch-writer.ts`). The
 * list must already be read: a vendor that cannot list is the caller's failure to report.
 */
export async function syncRegister(
  deps: SyncDeps,
  list: LicenceList,
  night: IsoDate,
  at: Date,
): Promise<SyncResult> {
  const nowMs = deps.nowMs ?? Date.now;
  const listedAt = new Date(deps.listedAtMs ?? nowMs()).toISOString();
  const records = await allLicences(deps.licences);
  const plan = planSync(records, list);
  const write = changeWriter({ licences: deps.licences, beforeWrite: deps.beforeWrite, night, at, listedAt });
  const batches = batchWriter({
    licences: deps.licences,
    beforeWrite: deps.beforeWrite,
    concurrency: deps.registerConcurrency,
    write,
  });
  const view = { night, at, listedAt, nowMs };

  // Each licence is written soon after it is read, so a run cut short (the first night of a large
  // fleet) keeps what it did and its retry carries on from there: a change at once, a new licence with
  // the next batch of new ones.
  const read = await mapLimit(plan.toRead, deps.vendorConcurrency, async ({ row, before }) => {
    const change = await readForm(deps, view, row, before);
    if (change.before === undefined) {
      await batches.add(change, keyChangedSinceRead(row, change.after));
      return undefined;
    }
    return write(change, keyChangedSinceRead(row, change.before));
  });
  const created = await batches.finish();
  const changes = [...created, ...read.filter((c): c is Change => c !== undefined)];

  const gone = (
    await mapLimit(plan.gone, deps.registerConcurrency, (before) =>
      write(
        { before, after: { ...before, goneSince: night, updatedAt: at.toISOString() }, readAt: listedAt },
        false,
      ),
    )
  ).filter((c): c is Change => c !== undefined);
  for (const change of [...changes, ...gone]) records.set(change.after.id, change.after);

  return {
    records,
    listed: list.rows.length,
    night: nightSync(records.values(), list.rows.length, night),
    added: changes.filter((c) => c.before === undefined),
    updated: changes.filter((c) => c.before !== undefined),
    gone,
    unchanged: plan.unchanged + plan.toRead.length - changes.length,
    writes: changes.length + gone.length,
  };
}

/**
 * The licence as the vendor shows it now: its form, its read timed on the real clock; the list row
 * where the form cannot be read (said in `detailError`) or there is none left to read (deleted).
 */
async function readForm(
  deps: Pick<SyncDeps, "billing" | "catalogue">,
  view: { night: IsoDate; at: Date; listedAt: string; nowMs: () => number },
  row: LicenceSummary,
  before: LicenceRecord | undefined,
): Promise<Change> {
  const { night, at, listedAt } = view;
  // A licence new to the register carries the night the sync found it.
  const added = before === undefined ? { syncAddedOn: night } : {};
  const fromRow = () => ({ ...recordFromRow(row, before, deps.catalogue, at), ...added });
  if (row.status === "deleted") return { before, after: fromRow(), readAt: listedAt };
  const readAt = new Date(view.nowMs()).toISOString();
  try {
    const details = await deps.billing.get(row.id);
    const vendor = recordFromVendor(details, deps.catalogue, before?.autoRenew ?? null, at);
    const after = {
      ...vendor,
      ...added,
      ...(before === undefined && suspensionMark(undefined, vendor, night)),
    };
    const current = before?.suspendedBy ? { ...after, suspendedBy: before.suspendedBy } : after;
    return { before, after: current, readAt };
  } catch (error) {
    return { before, after: fromRow(), readAt: listedAt, detailError: (error as Error).message };
  }
}

/** The night's sync, counted from the marks its writes leave on each licence. */
function nightSync(
  records: Iterable<LicenceRecord>,
  listed: number,
  night: IsoDate,
): NightSync & { updatedIds: string[] } {
  const addedIds: string[] = [];
  const goneIds: string[] = [];
  const updatedIds: string[] = [];
  for (const record of records) {
    if (record.syncAddedOn === night) addedIds.push(record.id);
    else if (record.syncChangedOn === night) updatedIds.push(record.id);
    if (record.goneSince === night) goneIds.push(record.id);
  }
  return {
    listed,
    added: addedIds.length,
    updated: updatedIds.length,
    gone: goneIds.length,
    addedIds: addedIds.slice(0, SYNC_NAMED),
    goneIds: goneIds.slice(0, SYNC_NAMED),
    updatedIds,
  };
}
