import type { BillingClient } from "../billmgr/client.ts";
import type { LicenceList, LicenceSummary } from "../billmgr/licence.ts";
import type { Catalogue } from "../catalogue/index.ts";
import type { IsoDate } from "../dates.ts";
import { recordFromRow, recordFromVendor } from "../licences/records.ts";
import type {
  DeskWritten,
  LicenceChanges,
  LicenceRecord,
  LicenceStore,
  NightSync,
} from "../register/types.ts";
import { updateAtVersion } from "../register/update-at-version.ts";
import { mapLimit } from "./limit.ts";

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

/** What changed in one licence, for the alerts that follow. */
export interface Change {
  before: LicenceRecord | undefined;
  after: LicenceRecord;
  /** When the vendor's view in `after` began to be read (real clock, ISO): the desk's later writes win. */
  readAt?: string;
  /** The form could not be read; the list row was used. */
  detailError?: string;
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

/** New licences written together (BatchWriteItem's limit). */
const NEW_BATCH = 25;

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

/** The list row says something the register does not: read the form. */
function differs(row: LicenceSummary, record: LicenceRecord): boolean {
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
  if (record.goneSince !== undefined || record.formPending === true || differs(row, record)) return true;
  if (row.status === "deleted") return false;
  if (!record.key) return true;
  return keyChangedSinceRead(row, record);
}

function keyChangedSinceRead(row: LicenceSummary, record: LicenceRecord): boolean {
  const { keyChangedOn } = row;
  return (
    keyChangedOn !== undefined &&
    (record.syncedAt === undefined || keyChangedOn >= record.syncedAt.slice(0, 10))
  );
}

/** Which stamp of `deskWrites` covers a vendor field. */
const STAMPED_BY: Partial<Record<(typeof VENDOR_FIELDS)[number], DeskWritten>> = {
  name: "name",
  ip: "ip",
  key: "key",
  status: "status",
  statusCode: "status",
  expiresOn: "expiresOn",
  period: "expiresOn",
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
 * Brings the register in line with the vendor's list: new licences appear (autoRenew off), changed ones
 * are re-read from their form and updated, vanished ones are marked gone (never dropped; and only when
 * the list is provably complete, for a licence missing from a partial list may still be there), and an
 * unchanged licence costs no write. Each write sets only the vendor's fields that changed, at the
 * version read (a write that lost to a concurrent one reads again and decides again), so nothing the
 * API sets during the night is undone. The list must already be read: a vendor that cannot list is the
 * caller's failure to report.
 */
export async function syncRegister(
  deps: SyncDeps,
  list: LicenceList,
  night: IsoDate,
  at: Date,
): Promise<SyncResult> {
  const nowMs = deps.nowMs ?? Date.now;
  const listedAt = new Date(deps.listedAtMs ?? nowMs()).toISOString();
  const listed = list.rows;
  const records = await allLicences(deps.licences);
  const seen = new Set<string>();
  const toRead: Array<{ row: LicenceSummary; before: LicenceRecord | undefined }> = [];
  let unchanged = 0;
  for (const row of listed) {
    seen.add(row.id);
    const before = records.get(row.id);
    if (before && !needsForm(row, before)) unchanged++;
    else toRead.push({ row, before });
  }

  // Only new, changed and keyless licences cost a vendor read; a deleted one has no form left to read.
  // Each is written soon after it is read, so a run cut short (the first night of a large fleet) keeps
  // what it did and its retry carries on from there: a change at once, a new licence with the next
  // batch of new ones. Batches are written while the reading goes on, as many at once as the register
  // takes; a reader waits only when that many are in flight, so no more is read than can be written.
  const fresh: Array<{ change: Change; touch: boolean }> = [];
  const created: Change[] = [];
  const writing = new Set<Promise<void>>();
  let writeFailure: { error: unknown } | undefined;
  const submit = async (batch: Array<{ change: Change; touch: boolean }>) => {
    // Never rejects: a failure is kept and thrown to the reader that next submits, or at the end.
    const task: Promise<void> = createNew(batch).then(
      (done) => {
        created.push(...done);
      },
      (error: unknown) => {
        writeFailure ??= { error };
      },
    );
    writing.add(task);
    void task.then(() => writing.delete(task));
    while (writing.size >= deps.registerConcurrency) await Promise.race(writing);
    if (writeFailure) throw writeFailure.error;
  };
  const read = await mapLimit(toRead, deps.vendorConcurrency, async ({ row, before }) => {
    const change = await readForm(row, before);
    if (change.before === undefined) {
      fresh.push({ change, touch: keyChangedSinceRead(row, change.after) });
      if (fresh.length >= NEW_BATCH) await submit(fresh.splice(0));
      return undefined;
    }
    const written = await write(change, keyChangedSinceRead(row, change.before));
    if (written) records.set(written.after.id, written.after);
    return written;
  });
  if (fresh.length > 0) await submit(fresh.splice(0));
  await Promise.all(writing);
  if (writeFailure) throw writeFailure.error;
  const changes = [...created, ...read.filter((c): c is Change => c !== undefined)];
  unchanged += toRead.length - changes.length;

  /**
   * New licences, created in one batch; any that someone created (or an order claimed) since the
   * register was read is written like a change instead, at the version read.
   */
  async function createNew(batch: Array<{ change: Change; touch: boolean }>): Promise<Change[]> {
    if (batch.length === 0) return [];
    const byId = new Map(batch.map((b) => [b.change.after.id, b]));
    for (const { change } of batch) await deps.beforeWrite?.(change);
    const { created, existing } = await deps.licences.createMany(batch.map((b) => b.change.after));
    const done: Change[] = created.map((after) => ({
      ...(byId.get(after.id) as { change: Change }).change,
      after,
    }));
    const others = await mapLimit(
      existing.map((id) => byId.get(id) as { change: Change; touch: boolean }),
      deps.registerConcurrency,
      ({ change, touch }) => write(change, touch),
    );
    done.push(...others.filter((c): c is Change => c !== undefined));
    for (const change of done) records.set(change.after.id, change.after);
    return done;
  }

  async function readForm(row: LicenceSummary, before: LicenceRecord | undefined): Promise<Change> {
    // A licence new to the register carries the night the sync found it.
    const added = before === undefined ? { syncAddedOn: night } : {};
    const fromRow = () => ({ ...recordFromRow(row, before, deps.catalogue, at), ...added });
    if (row.status === "deleted") return { before, after: fromRow(), readAt: listedAt };
    const readAt = new Date(nowMs()).toISOString();
    try {
      const details = await deps.billing.get(row.id);
      const after = { ...recordFromVendor(details, deps.catalogue, before?.autoRenew ?? null, at), ...added };
      const view = before?.suspendedBy ? { ...after, suspendedBy: before.suspendedBy } : after;
      return { before, after: view, readAt };
    } catch (error) {
      return { before, after: fromRow(), readAt: listedAt, detailError: (error as Error).message };
    }
  }

  /**
   * Writes one change: a new licence is created (unless someone created it meanwhile), a known one
   * updated at the version read. Undefined when there was nothing to write.
   */
  async function write(change: Change, touch: boolean): Promise<Change | undefined> {
    if (change.before === undefined) {
      await deps.beforeWrite?.(change);
      if (await deps.licences.create({ ...change.after, version: undefined })) {
        return { ...change, after: { ...change.after, version: 1 } };
      }
      // Created meanwhile (an order through the API): update it like any other, as it is now.
    }
    const readAt = change.readAt ?? listedAt;
    /** The change the last round decided to write; undefined when it decided to write nothing. */
    let decided: { next: Change; nothing: boolean } | undefined;
    const after = await updateAtVersion(
      deps.licences,
      change.after.id,
      async (before) => {
        decided = undefined;
        // Someone read the vendor's whole form since we did (a refresh, an order's answer): ours is
        // stale for this licence, and tomorrow's read settles it. (The desk's own calls stamp only the
        // fields they wrote: see vendorChanges.)
        if ((before.deskWrites?.form ?? "") > readAt) return undefined;
        const fields = vendorChanges(before, change.after, readAt);
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
          ...(!nothing && change.after.goneSince === undefined && { syncChangedOn: night }),
          syncedAt: change.after.syncedAt,
          updatedAt: at.toISOString(),
        };
      },
      { current: change.before },
    );
    if (after === undefined || decided === undefined || decided.nothing) return undefined;
    return { ...decided.next, after };
  }

  const missing = list.complete
    ? [...records.values()].filter((r) => !seen.has(r.id) && r.goneSince === undefined)
    : [];
  const gone = (
    await mapLimit(missing, deps.registerConcurrency, (before) =>
      write(
        { before, after: { ...before, goneSince: night, updatedAt: at.toISOString() }, readAt: listedAt },
        false,
      ),
    )
  ).filter((c): c is Change => c !== undefined);
  for (const change of gone) records.set(change.after.id, change.after);

  return {
    records,
    listed: listed.length,
    night: nightSync(records.values(), listed.length, night),
    added: changes.filter((c) => c.before === undefined),
    updated: changes.filter((c) => c.before !== undefined),
    gone,
    unchanged,
    writes: changes.length + gone.length,
  };
}

/** The night's sync, counted from the marks its writes leave on each licence. */
function nightSync(
  records: Iterable<LicenceRecord>,
  listed: number,
  night: IsoDate,
): NightSync & { updatedIds: string[] } {
  let added = 0;
  let gone = 0;
  const updatedIds: string[] = [];
  for (const record of records) {
    if (record.syncAddedOn === night) added++;
    else if (record.syncChangedOn === night) updatedIds.push(record.id);
    if (record.goneSince === night) gone++;
  }
  return { listed, added, updated: updatedIds.length, gone, updatedIds };
}
