import { setTimeout as sleep } from "node:timers/promises";
import { BatchWriteCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { updateAtVersion } from "../../domain/licences/update-at-version.ts";
import type { IdempotencyRecord, IdempotencyStore } from "../../domain/ports/intent-store.ts";
import type { AutoRenew, LicenceRecord, LicenceStore } from "../../domain/ports/licence-store.ts";
import { backoffMs, batchGet } from "./queries.ts";

type Item = Record<string, unknown>;

/** BatchWriteItem's limit of requests per call. */
const BATCH_WRITE = 25;
/** BatchGetItem's limit: one consistent read checks this many new licences, then written 25 a batch at once. */
const CHECKED_GROUP = 100;
/** Rounds of writing again what DynamoDB left unprocessed (throttled) before giving up on it. */
const UNPROCESSED_ROUNDS = 10;
/**
 * How far before its first read the claims log is read back: the claims are noted by the orderer's
 * clock, the read by ours (both NTP-kept; a claim long before the first read found its record there).
 */
const CLOCK_MARGIN_MS = 15 * 60_000;

export interface NewLicenceDeps {
  doc: DynamoDBDocumentClient;
  table: string;
  /** The key of a licence's item. */
  keyOf(id: string): Item;
  /** A record's whole item at version 1, as `LicenceStore.create` writes it. */
  itemOf(record: LicenceRecord): Item;
  intents: Pick<IdempotencyStore, "claimedSince" | "find">;
  licences: Pick<LicenceStore, "get" | "update">;
}

/**
 * `LicenceStore.createMany`: many `create`s in BatchWriteItem calls, which take no condition. What the
 * condition of `create` guarantees (never write over a licence someone else created) is kept around
 * the writes instead:
 * - Right before each group of 100 is written (four batches at once, fewer where asked), and again
 *   before each retry of what DynamoDB left unprocessed, one consistent read of their licence items: a
 *   licence that exists is not written but returned in `existing`.
 * - A writer that creates one of the others in the moment between that read and the batch landing is
 *   written over. An order (the API's, or the reconciler settling one) claims the licence id and notes
 *   the claim in the claims log before it writes the record, so one consistent query of the log after
 *   the writes sees every order that can have been written over. Its record and ours hold the vendor's
 *   data, read a moment apart; they differ in the autoRenew the order asked for, which is written back
 *   from the order's request, at our version only (a change made since, by anyone, is never undone).
 *   An order that claimed the id and writes its record after ours finds ours and keeps its own autoRenew
 *   (`storeOrdered`).
 * - `GET /licenses/{id}?refresh=true` of a licence the register does not know yet claims nothing: in that
 *   moment ours may replace its record. Both are the vendor's data read moments apart and autoRenew
 *   null: nothing anyone set is lost.
 */
export async function createNewLicences(
  deps: NewLicenceDeps,
  records: readonly LicenceRecord[],
  writesAtOnce = CHECKED_GROUP / BATCH_WRITE,
): Promise<{ created: LicenceRecord[]; existing: string[] }> {
  const since = Date.now() - CLOCK_MARGIN_MS;
  const created: LicenceRecord[] = [];
  const existing: string[] = [];
  for (let at = 0; at < records.length; at += CHECKED_GROUP) {
    const group = records.slice(at, at + CHECKED_GROUP);
    const taken = await existingIds(
      deps,
      group.map((r) => r.id),
    );
    existing.push(...taken);
    const free = group.filter((r) => !taken.has(r.id));
    const batches: LicenceRecord[][] = [];
    for (let i = 0; i < free.length; i += BATCH_WRITE) batches.push(free.slice(i, i + BATCH_WRITE));
    const step = Math.max(1, writesAtOnce);
    for (let i = 0; i < batches.length; i += step) {
      const wave = batches.slice(i, i + step);
      for (const written of await Promise.all(wave.map((batch) => writeBatch(deps, batch, existing))))
        created.push(...written);
    }
  }
  return { created: await withOrdersSettled(deps, created, since), existing };
}

/**
 * Writes a batch checked just before, until none is left unprocessed: what is left is checked again
 * before each retry, and any that someone created meanwhile goes to `existing`.
 */
async function writeBatch(
  deps: NewLicenceDeps,
  batch: readonly LicenceRecord[],
  existing: string[],
): Promise<LicenceRecord[]> {
  const written: LicenceRecord[] = [];
  let pending = [...batch];
  for (let round = 0; pending.length > 0; round++) {
    if (round >= UNPROCESSED_ROUNDS) {
      throw new Error(
        `register: ${pending.length} new licence(s) still unprocessed after ${round} batch writes (throttled)`,
      );
    }
    if (round > 0) {
      await sleep(backoffMs(round));
      const taken = await existingIds(
        deps,
        pending.map((r) => r.id),
      );
      existing.push(...taken);
      pending = pending.filter((r) => !taken.has(r.id));
      if (pending.length === 0) break;
    }
    const { UnprocessedItems } = await deps.doc.send(
      new BatchWriteCommand({
        RequestItems: {
          [deps.table]: pending.map((record) => ({ PutRequest: { Item: deps.itemOf(record) } })),
        },
      }),
    );
    const left = new Set(
      (UnprocessedItems?.[deps.table] ?? []).map((request) => String(request.PutRequest?.Item?.id)),
    );
    written.push(...pending.filter((r) => !left.has(r.id)));
    pending = pending.filter((r) => left.has(r.id));
  }
  return written;
}

/** The ids among these that have a licence item: one consistent batch read. */
async function existingIds(deps: NewLicenceDeps, ids: readonly string[]): Promise<Set<string>> {
  const found = await batchGet(deps.doc, deps.table, ids.map(deps.keyOf));
  return new Set(found.map((item) => String(item.id)));
}

/** The records as written; any whose id an order claimed meanwhile, with the autoRenew it asked for. */
async function withOrdersSettled(
  deps: NewLicenceDeps,
  written: readonly LicenceRecord[],
  since: number,
): Promise<LicenceRecord[]> {
  const asWritten = written.map((record) => ({ ...record, version: 1 }));
  if (written.length === 0) return asWritten;
  const claimed = await deps.intents.claimedSince(since);
  if (claimed.size === 0) return asWritten;
  return Promise.all(
    asWritten.map(async (record) => {
      const owner = claimed.get(record.id);
      if (!owner) return record;
      const autoRenew = orderedAutoRenew(await deps.intents.find(owner.scope, owner.key));
      if (autoRenew === undefined || autoRenew === record.autoRenew) return record;
      // Only over our own write: a record read back was written since (the order's own record, or a
      // change after it), and that one stands.
      const settled = await updateAtVersion(
        deps.licences,
        record.id,
        (current) => (current === record ? { autoRenew } : undefined),
        { current: record },
      );
      return settled ?? record;
    }),
  );
}

/** The autoRenew an order asked for, from its canonical request (`{operation: "order", body}`). */
function orderedAutoRenew(intent: IdempotencyRecord | undefined): AutoRenew | undefined {
  const request = intent?.request as { operation?: unknown; body?: { autoRenew?: unknown } } | undefined;
  if (request?.operation !== "order") return undefined;
  const value = request.body?.autoRenew ?? null;
  return value === null || value === 1 || value === 12 ? value : undefined;
}
