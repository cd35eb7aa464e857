import { setTimeout as sleep } from "node:timers/promises";
import { BatchWriteCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { updateAtVersion } from "../../domain/licences/update-at-version.ts";
import type { IdempotencyRecord, IdempotencyStore } from "../../domain/ports/intent-store.ts";
import type { AutoRenew, LicenceRecord, LicenceStore } from "../../domain/ports/licence-store.ts";
import { orderedKey } from "./intent-store.ts";
import { backoffMs, batchGet } from "./queries.ts";
import { PARTITION_KEY } from "./table.ts";

type Item = Record<string, unknown>;

/** BatchWriteItem's limit of requests per call. */
const BATCH_WRITE = 25;
/** Rounds of writing again what DynamoDB left unprocessed (throttled) before giving up on it. */
const UNPROCESSED_ROUNDS = 10;

export interface NewLicenceDeps {
  doc: DynamoDBDocumentClient;
  table: string;
  /** The key of a licence's item. */
  keyOf(id: string): Item;
  /** A record's whole item at version 1, as `LicenceStore.create` writes it. */
  itemOf(record: LicenceRecord): Item;
  intents: Pick<IdempotencyStore, "licenceIdOwners" | "find">;
  licences: Pick<LicenceStore, "get" | "update">;
}

/**
 * `LicenceStore.createMany`: many `create`s in BatchWriteItem calls, which take no condition. What the
 * condition of `create` guarantees (never write over a licence someone else created) is kept around each
 * batch instead:
 * - Right before the batch is written, and again before each retry of what DynamoDB left unprocessed, a
 *   consistent read of its licence items and of orders' claims on its ids: a licence that exists, or
 *   whose id an order has claimed (its record is on the way), is not written but returned in `existing`.
 * - A writer that creates one of the others in the moment between that read and the batch landing is
 *   written over. An order (the API's, or the reconciler settling one) claims the licence id before it
 *   writes the record, so a consistent read of the claims after the batch sees every order that can
 *   have been written over. Its record and ours hold the vendor's form, read a moment apart; they differ
 *   in the autoRenew the order asked for, which is written back from the order's request, at our
 *   version only (a change made since, by anyone, is never undone).
 * - `GET /licenses/{id}?refresh=true` of a licence the register does not know yet claims nothing: in that
 *   moment ours may replace its record. Both are the vendor's form read moments apart and autoRenew null:
 *   nothing anyone set is lost.
 */
export async function createNewLicences(
  deps: NewLicenceDeps,
  records: readonly LicenceRecord[],
): Promise<{ created: LicenceRecord[]; existing: string[] }> {
  const created: LicenceRecord[] = [];
  const existing: string[] = [];
  for (let at = 0; at < records.length; at += BATCH_WRITE) {
    const written = await writeBatch(deps, records.slice(at, at + BATCH_WRITE), existing);
    created.push(...(await withOrdersSettled(deps, written)));
  }
  return { created, existing };
}

/** Writes the records nobody has created or claimed, until none is left unprocessed; the others go to `existing`. */
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
    if (round > 0) await sleep(backoffMs(round));
    const taken = await takenIds(
      deps,
      pending.map((r) => r.id),
    );
    existing.push(...taken);
    const free = pending.filter((r) => !taken.has(r.id));
    if (free.length === 0) break;
    const { UnprocessedItems } = await deps.doc.send(
      new BatchWriteCommand({
        RequestItems: { [deps.table]: free.map((record) => ({ PutRequest: { Item: deps.itemOf(record) } })) },
      }),
    );
    const left = new Set(
      (UnprocessedItems?.[deps.table] ?? []).map((request) => String(request.PutRequest?.Item?.id)),
    );
    written.push(...free.filter((r) => !left.has(r.id)));
    pending = free.filter((r) => left.has(r.id));
  }
  return written;
}

/** The ids among these that have a licence item, or that an order has claimed: one consistent batch read. */
async function takenIds(deps: NewLicenceDeps, ids: readonly string[]): Promise<Set<string>> {
  const keys = ids.flatMap((id) => [deps.keyOf(id), orderedKey(id)]);
  const found = await batchGet(deps.doc, deps.table, keys);
  return new Set(found.map((item) => String(item[PARTITION_KEY]).replace(/^(LIC|ORDERED)#/, "")));
}

/** The records as written; any whose id an order claimed meanwhile, with the autoRenew it asked for. */
async function withOrdersSettled(
  deps: NewLicenceDeps,
  written: readonly LicenceRecord[],
): Promise<LicenceRecord[]> {
  const asWritten = written.map((record) => ({ ...record, version: 1 }));
  if (written.length === 0) return asWritten;
  const owners = await deps.intents.licenceIdOwners(written.map((r) => r.id));
  if (owners.size === 0) return asWritten;
  return Promise.all(
    asWritten.map(async (record) => {
      const owner = owners.get(record.id);
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
