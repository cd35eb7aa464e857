import type { Catalogue } from "../catalogue/catalogue.ts";
import type { IsoDate } from "../dates.ts";
import { recordFromRow, recordFromVendor } from "../licences/records.ts";
import { mapLimit } from "../map-limit.ts";
import type { BillingClient, LicenceList, LicenceSummary } from "../ports/billing.ts";
import { BillmgrThrottledError } from "../ports/billing-errors.ts";
import type { LicenceRecord, LicenceStore } from "../ports/licence-store.ts";
import { type NightSync, SYNC_NAMED } from "../ports/night-ledger.ts";
import { suspensionMark } from "../renewal/renewal-rules.ts";
import { batchWriter } from "./sync/batch-writer.ts";
import { type Change, changeWriter } from "./sync/change-writer.ts";
import { type FormRead, keyChangedSinceRead, planSync, rowDiffers } from "./sync/plan.ts";

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
  /**
   * Listed licences whose form is to be read (new or changed in the list, never read, without a key,
   * or re-keyed), those waiting longest first: read as time allows (`readForms`), tonight or later.
   */
  forms: FormRead[];
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
  const { listedAt, write, view } = syncWriting(deps, night, at);
  const records = await allLicences(deps.licences);
  const plan = planSync(records, list);
  const batches = batchWriter({
    licences: deps.licences,
    beforeWrite: deps.beforeWrite,
    concurrency: deps.registerConcurrency,
    write,
  });

  // Each licence is written from its list row at once (a new one in a batch with the next new ones):
  // the list says what the night decides by (status, expiry, IP, product). Its form (key, nodes) is
  // read after the night's renewals and alerts, as time allows: a run cut short keeps every row.
  const fromRows = await mapLimit(plan.toRead, deps.registerConcurrency, async ({ row, before }) => {
    const change = rowChange(deps.catalogue, view, row, before);
    if (change === undefined) return undefined;
    if (change.before === undefined) {
      await batches.add(change, false);
      return undefined;
    }
    return write(change, false);
  });
  const created = await batches.finish();
  const changes = [...created, ...fromRows.filter((c): c is Change => c !== undefined)];

  const gone = (
    await mapLimit(plan.gone, deps.registerConcurrency, (before) =>
      write(
        { before, after: { ...before, goneSince: night, updatedAt: at.toISOString() }, readAt: listedAt },
        false,
      ),
    )
  ).filter((c): c is Change => c !== undefined);
  for (const change of [...changes, ...gone]) records.set(change.after.id, change.after);
  const forms = formsDue(plan.toRead, records);

  return {
    records,
    forms,
    listed: list.rows.length,
    night: nightSync(records.values(), list.rows.length, night),
    // Added: created by this sync (marked with the night); one an order created meanwhile is an update.
    added: changes.filter((c) => c.after.syncAddedOn === night && c.before?.syncAddedOn !== night),
    updated: changes.filter((c) => !(c.after.syncAddedOn === night && c.before?.syncAddedOn !== night)),
    gone,
    unchanged: plan.unchanged + plan.toRead.length - changes.length,
    writes: changes.length + gone.length,
  };
}

/** The clock, the list's time, and the writer of changes the sync and the form reads share. */
function syncWriting(deps: SyncDeps, night: IsoDate, at: Date) {
  const nowMs = deps.nowMs ?? Date.now;
  const listedAt = new Date(deps.listedAtMs ?? nowMs()).toISOString();
  const write = changeWriter({ licences: deps.licences, beforeWrite: deps.beforeWrite, night, at, listedAt });
  return { nowMs, listedAt, write, view: { night, at, listedAt, nowMs } };
}

/**
 * The licence as its list row shows it, where the row says something the register does not (or the
 * licence is new to it): marked for its form to be read. Undefined where the row says nothing new
 * (only the form is due: no key yet, re-keyed, or never read).
 */
function rowChange(
  catalogue: Catalogue,
  view: { night: IsoDate; at: Date; listedAt: string },
  row: LicenceSummary,
  before: LicenceRecord | undefined,
): Change | undefined {
  const { night, at, listedAt } = view;
  if (before !== undefined && before.goneSince === undefined && !rowDiffers(row, before)) return undefined;
  const after = recordFromRow(row, before, catalogue, at);
  if (before !== undefined) return { before, after, readAt: listedAt };
  // A licence new to the register carries the night the sync found it, and a suspension it already has.
  return {
    before,
    after: { ...after, syncAddedOn: night, ...suspensionMark(undefined, after, night) },
    readAt: listedAt,
  };
}

/**
 * The licences whose form is due, as the register now has them: those waiting longest first (by the
 * night the sync first found them; those it did not find, ordered through the desk or known before it
 * marked its finds, come first), then in the list's order. Deleted ones have no form to read.
 */
function formsDue(toRead: FormRead[], records: ReadonlyMap<string, LicenceRecord>): FormRead[] {
  const due = toRead
    .filter(({ row }) => row.status !== "deleted")
    .map(({ row }, order) => ({ row, before: records.get(row.id), order }));
  return due
    .sort(
      (a, b) => (a.before?.syncAddedOn ?? "").localeCompare(b.before?.syncAddedOn ?? "") || a.order - b.order,
    )
    .map(({ row, before }) => ({ row, before }));
}

export interface FormReadResult {
  /** The changes written, as written. */
  changes: Change[];
  read: number;
  /** Forms not read before the stop, left for the next run. */
  left: number;
  failed: number;
  /** The vendor throttled a read: the run read no more forms after it. */
  throttled: boolean;
}

/**
 * Reads the due forms, a few at a time, until `stopAtMs` (real clock): none is begun after it, and
 * each read is written at once, so a run cut short keeps what it read. A form that cannot be read is
 * told (`detailError`, through `beforeWrite`) and left due; it holds up none of the others.
 */
export async function readForms(
  deps: SyncDeps,
  forms: readonly FormRead[],
  night: IsoDate,
  at: Date,
  stopAtMs: number,
): Promise<FormReadResult> {
  const { nowMs, write, view } = syncWriting(deps, night, at);
  let read = 0;
  let failed = 0;
  let throttled = false;
  const written = await mapLimit([...forms], deps.vendorConcurrency, async ({ row, before }) => {
    if (throttled || nowMs() >= stopAtMs) return undefined;
    read++;
    const change = await readForm(deps, view, row, before);
    if (change.throttled) {
      // The vendor asks us to slow down: no more forms this run (they are the next runs'), and no
      // licence is told unreadable for it.
      throttled = true;
      read--;
      return undefined;
    }
    if (change.detailError !== undefined) {
      // Its row is written already: nothing to write, only the failed read to tell.
      failed++;
      await deps.beforeWrite?.(change);
      return undefined;
    }
    return write(change, keyChangedSinceRead(row, change.before ?? change.after));
  });
  return {
    changes: written.filter((c): c is Change => c !== undefined),
    read,
    left: forms.length - read,
    failed,
    throttled,
  };
}

/**
 * The licence as the vendor shows it now: its form, its read timed on the real clock; the list row
 * where the form cannot be read (said in `detailError`).
 */
async function readForm(
  deps: Pick<SyncDeps, "billing" | "catalogue">,
  view: { night: IsoDate; at: Date; listedAt: string; nowMs: () => number },
  row: LicenceSummary,
  before: LicenceRecord | undefined,
): Promise<Change & { throttled?: boolean }> {
  const { night, at, listedAt } = view;
  const fromRow = () => ({ ...recordFromRow(row, before, deps.catalogue, at) });
  const readAt = new Date(view.nowMs()).toISOString();
  try {
    const details = await deps.billing.get(row.id);
    const vendor = recordFromVendor(details, deps.catalogue, before?.autoRenew ?? null, at);
    const after = {
      ...vendor,
      ...(before === undefined && { syncAddedOn: night, ...suspensionMark(undefined, vendor, night) }),
    };
    const current = before?.suspendedBy ? { ...after, suspendedBy: before.suspendedBy } : after;
    // Filling in a licence written from its row is no change at the vendor: it is not counted as one.
    return {
      before,
      after: { ...current, formPending: undefined },
      readAt,
      completes: before?.formPending === true,
    };
  } catch (error) {
    return {
      before,
      after: fromRow(),
      readAt: listedAt,
      detailError: (error as Error).message,
      ...(error instanceof BillmgrThrottledError && { throttled: true }),
    };
  }
}

/** The night's sync, counted from the marks its writes leave on each licence. */
export function nightSync(
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
