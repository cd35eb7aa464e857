import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { LicenceStatus } from "../../domain/ports/billing.ts";
import { alertLedger } from "./alert-ledger.ts";
import { auditLog } from "./audit-log.ts";
import { intentStore } from "./intent-store.ts";
import { createNewLicences } from "./new-licences.ts";
import { nightLedger } from "./night-ledger.ts";

export { IdempotencyRecordNotFoundError, idempotencyKey } from "./intent-store.ts";

import type { IdempotencyStore } from "../../domain/ports/intent-store.ts";
import {
  DESK_WRITTEN,
  InvalidCursorError,
  type LicenceChanges,
  type LicenceQuery,
  type LicenceRecord,
  type LicenceStore,
  StaleRecordError,
} from "../../domain/ports/licence-store.ts";
import type { Register } from "../../domain/ports/register.ts";
import { conditional, conditionalWrite } from "./conditional.ts";
import { BY_EXPIRY_INDEX, BY_STATUS_INDEX, PARTITION_KEY, SORT_KEY } from "./table.ts";

export interface DynamoRegisterOptions {
  client: DynamoDBClient;
  tableName: string;
}

/** Sorts after every real date, so licences without an expiry come last. */
export const NO_EXPIRY = "9999-12-31";
const LICENCE_SK = "LICENCE";
const LICENCE_GSI1PK = "LICENCE";

type Item = Record<string, unknown>;

// Keys of the items, in one place.
export const licenceKey = (id: string) => ({ [PARTITION_KEY]: `LIC#${id}`, [SORT_KEY]: LICENCE_SK });
export const licenceExpirySortKey = (record: Pick<LicenceRecord, "id" | "expiresOn">) =>
  `${record.expiresOn ?? NO_EXPIRY}#${record.id}`;
export const licenceStatusPartition = (status: LicenceStatus) => `STATUS#${status}`;

/** The register on one DynamoDB table (see `table.ts`). Build it once per container and reuse it. */
export function createDynamoRegister(options: DynamoRegisterOptions): Register {
  const doc = DynamoDBDocumentClient.from(options.client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const table = options.tableName;
  const idempotency = intentStore(doc, table);
  return {
    licences: licenceStore(doc, table, idempotency),
    audit: auditLog(doc, table),
    idempotency,
    alerts: alertLedger(doc, table),
    nights: nightLedger(doc, table),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Alerts (alert-ledger.ts), nights (night-ledger.ts), intents (intents.ts) and the audit log
// (audit-log.ts) live in their own modules.

export { alertKey } from "./alert-ledger.ts";

// ---------------------------------------------------------------------------------------------------------
// Licences

function licenceStore(
  doc: DynamoDBDocumentClient,
  table: string,
  intents: Pick<IdempotencyStore, "claimedSince" | "find">,
): LicenceStore {
  const store: LicenceStore = {
    async get(id) {
      const { Item } = await doc.send(
        new GetCommand({ TableName: table, Key: licenceKey(id), ConsistentRead: true }),
      );
      return Item ? toLicence(Item) : undefined;
    },

    async put(record) {
      await doc.send(
        new PutCommand({ TableName: table, Item: licenceItem(record, (record.version ?? 0) + 1) }),
      );
    },

    create: (record) =>
      conditional(
        doc,
        new PutCommand({
          TableName: table,
          Item: licenceItem(record, 1),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      ),

    createMany: (records, writesAtOnce) =>
      createNewLicences(
        {
          doc,
          table,
          keyOf: licenceKey,
          itemOf: (record) => licenceItem(record, 1),
          intents,
          licences: store,
        },
        records,
        writesAtOnce,
      ),

    async update(id, changes, options = {}) {
      const update = licenceUpdate(id, changes, options.ifVersion);
      const written = await conditionalWrite(
        doc,
        new UpdateCommand({ TableName: table, Key: licenceKey(id), ...update, ReturnValues: "ALL_NEW" }),
      );
      if (written) return written.Attributes ? toLicence(written.Attributes) : undefined;
      // Missing, or at another version: one read tells which (dynalite cannot return the item).
      const { Item } = await doc.send(
        new GetCommand({ TableName: table, Key: licenceKey(id), ConsistentRead: true }),
      );
      if (!Item) return undefined;
      throw new StaleRecordError(
        `licence ${id}: written meanwhile (version ${Item.version ?? 0}, expected ${options.ifVersion})`,
      );
    },

    async list(query) {
      if (!Number.isInteger(query.limit) || query.limit < 1)
        throw new RangeError(`limit must be a positive integer, got ${query.limit}`);
      const shape = indexShape(query);
      let startKey = query.cursor === undefined ? undefined : decodeCursor(query.cursor, query, shape);

      // Read one item past the page: if it exists there is a next page, and the cursor is the key of the
      // page's last item. So a cursor is returned only when more items follow, and a page is never cut
      // short by DynamoDB's 1 MB limit (we read on until the page is full or the index is exhausted).
      const items: Item[] = [];
      do {
        const input: QueryCommandInput = {
          TableName: table,
          IndexName: shape.index,
          KeyConditionExpression: shape.keyCondition,
          ExpressionAttributeValues: shape.values,
          Limit: query.limit + 1 - items.length,
          ExclusiveStartKey: startKey,
        };
        const page = await doc.send(new QueryCommand(input));
        items.push(...(page.Items ?? []));
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined && items.length <= query.limit);

      const pageItems = items.slice(0, query.limit);
      const last = pageItems.at(-1);
      const more = items.length > query.limit;
      return {
        items: pageItems.map(toLicence),
        cursor: more && last ? encodeCursor(pick(last, shape.keyAttributes)) : undefined,
      };
    },
  };
  return store;
}

interface IndexShape {
  index: string;
  /** The index's partition attribute and the value every item of this query has there. */
  partitionAttribute: "gsi1pk" | "gsi2pk";
  partitionValue: string;
  keyCondition: string;
  values: Record<string, string>;
  /** The attributes of a LastEvaluatedKey on this index: table key plus index key. */
  keyAttributes: readonly string[];
}

function indexShape(query: LicenceQuery): IndexShape {
  const [index, partitionAttribute, partitionValue] =
    query.status === undefined
      ? ([BY_EXPIRY_INDEX, "gsi1pk", LICENCE_GSI1PK] as const)
      : ([BY_STATUS_INDEX, "gsi2pk", licenceStatusPartition(query.status)] as const);
  const values: Record<string, string> = { ":p": partitionValue };
  let keyCondition = `${partitionAttribute} = :p`;
  if (query.expiresFrom !== undefined) {
    // A bare date sorts before every `date#id` of that date, so BETWEEN with a bare upper date is
    // still strictly before it.
    keyCondition += " AND gsi1sk BETWEEN :from AND :before";
    values[":from"] = query.expiresFrom;
    values[":before"] = query.expiresBefore ?? NO_EXPIRY;
  } else if (query.expiresBefore !== undefined) {
    // A bare date sorts before every `date#id` of that date: `< 2021-06-15` keeps expiries to 2021-06-14.
    keyCondition += " AND gsi1sk < :before";
    values[":before"] = query.expiresBefore;
  }
  return {
    index,
    partitionAttribute,
    partitionValue,
    keyCondition,
    values,
    keyAttributes: [PARTITION_KEY, SORT_KEY, partitionAttribute, "gsi1sk"],
  };
}

function encodeCursor(key: Item): string {
  return Buffer.from(JSON.stringify(key), "utf8").toString("base64url");
}

/** The cursor back to an ExclusiveStartKey, if it is exactly what `list` would give for this query. */
function decodeCursor(cursor: string, query: LicenceQuery, shape: IndexShape): Item {
  const invalid = () => new InvalidCursorError("cursor was not produced by this listing");
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  if (typeof key !== "object" || key === null || Array.isArray(key)) throw invalid();
  const entries = Object.entries(key);
  const expected = new Set(shape.keyAttributes);
  if (entries.length !== expected.size) throw invalid();
  for (const [name, value] of entries) if (!expected.has(name) || typeof value !== "string") throw invalid();

  const k = key as Record<string, string>;
  const id = k[PARTITION_KEY]?.startsWith("LIC#") ? k[PARTITION_KEY].slice(4) : undefined;
  const sortKey = k.gsi1sk ?? "";
  if (
    id === undefined ||
    id === "" ||
    k[SORT_KEY] !== LICENCE_SK ||
    k[shape.partitionAttribute] !== shape.partitionValue ||
    !sortKey.endsWith(`#${id}`) ||
    (query.expiresBefore !== undefined && !(sortKey < query.expiresBefore)) ||
    (query.expiresFrom !== undefined && !(sortKey >= query.expiresFrom))
  )
    throw invalid();
  return k;
}

/** The whole item of a record, index keys included, at this version. */
function licenceItem(record: LicenceRecord, version: number): Item {
  // Built in place, without its unset fields: a first import writes thousands of these at once.
  const item: Item = {};
  for (const [field, value] of Object.entries(fromLicence(record)))
    if (value !== undefined) item[field] = value;
  item[PARTITION_KEY] = `LIC#${record.id}`;
  item[SORT_KEY] = LICENCE_SK;
  item.gsi1pk = LICENCE_GSI1PK;
  item.gsi1sk = licenceExpirySortKey(record);
  item.gsi2pk = licenceStatusPartition(record.status);
  item.version = version;
  return item;
}

/** Fields a licence item must always have: an update may change them, never remove them. */
const REQUIRED_LICENCE_FIELDS = new Set([
  "name",
  "ip",
  "pricelist",
  "status",
  "statusCode",
  "autoRenew",
  "updatedAt",
]);

/**
 * The UpdateItem of `update`: SET what is given, REMOVE what is given as undefined, the index keys
 * kept in step (expiry sort key, status partition), the version bumped; only on an existing item, and
 * with `ifVersion` only at that version (an item written before versions counts as version 0).
 */
function licenceUpdate(id: string, changes: LicenceChanges, ifVersion: number | undefined) {
  const names: Record<string, string> = { "#version": "version" };
  const values: Record<string, unknown> = { ":one": 1 };
  const set: string[] = [];
  const remove: string[] = [];
  const { deskWrites, ...plain } = changes;
  const fields = fromLicence({ ...(plain as LicenceRecord), id });
  // Each stamp is an attribute of its own: a write stamps its fields, never another writer's.
  for (const [field, at] of Object.entries(deskWrites ?? {})) {
    if (at === undefined) continue;
    if (!(DESK_WRITTEN as readonly string[]).includes(field))
      throw new TypeError(`licence update: ${field} is not a field the desk stamps`);
    names[`#w_${field}`] = `${WROTE}${field}`;
    values[`:w_${field}`] = at;
    set.push(`#w_${field} = :w_${field}`);
  }
  Object.entries(plain).forEach(([field, value], i) => {
    if (field === "id" || field === "version" || !(field in fields)) {
      throw new TypeError(`licence update: ${field} is not a field an update may set`);
    }
    names[`#f${i}`] = field;
    if (value !== undefined) {
      values[`:f${i}`] = fields[field];
      set.push(`#f${i} = :f${i}`);
    } else if (REQUIRED_LICENCE_FIELDS.has(field)) {
      throw new TypeError(`licence update: ${field} cannot be removed`);
    } else remove.push(`#f${i}`);
  });
  if ("expiresOn" in changes) {
    set.push("gsi1sk = :gsi1sk");
    values[":gsi1sk"] = licenceExpirySortKey({ id, expiresOn: changes.expiresOn });
  }
  if (changes.status !== undefined) {
    set.push("gsi2pk = :gsi2pk");
    values[":gsi2pk"] = licenceStatusPartition(changes.status);
  }
  let condition = "attribute_exists(pk)";
  if (ifVersion !== undefined) {
    values[":v"] = ifVersion;
    condition +=
      ifVersion === 0 ? " AND (attribute_not_exists(#version) OR #version = :v)" : " AND #version = :v";
  }
  const expression = [
    ...(set.length > 0 ? [`SET ${set.join(", ")}`] : []),
    ...(remove.length > 0 ? [`REMOVE ${remove.join(", ")}`] : []),
    "ADD #version :one",
  ].join(" ");
  return {
    UpdateExpression: expression,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** Where each of `deskWrites` is kept: `wrote_name`, `wrote_status`, … */
const WROTE = "wrote_";

function fromLicence(record: LicenceRecord): Item {
  return {
    ...(record.deskWrites &&
      Object.fromEntries(Object.entries(record.deskWrites).map(([field, at]) => [`${WROTE}${field}`, at]))),
    id: record.id,
    name: record.name,
    ip: record.ip,
    product: record.product,
    pricelist: record.pricelist,
    period: record.period,
    nodes: record.nodes,
    status: record.status,
    statusCode: record.statusCode,
    expiresOn: record.expiresOn,
    createdOn: record.createdOn,
    key: record.key,
    autoRenew: record.autoRenew,
    syncedAt: record.syncedAt,
    updatedAt: record.updatedAt,
    goneSince: record.goneSince,
    syncAddedOn: record.syncAddedOn,
    syncChangedOn: record.syncChangedOn,
    suspendedOn: record.suspendedOn,
    formPending: record.formPending,
    suspendedBy: record.suspendedBy,
    predecessorId: record.predecessorId,
    successorId: record.successorId,
    retireOld: record.retireOld,
    retiredOn: record.retiredOn,
    successorPlan: record.successorPlan,
  };
}

const OPTIONAL_LICENCE_FIELDS = [
  "product",
  "period",
  "nodes",
  "expiresOn",
  "createdOn",
  "key",
  "syncedAt",
  "goneSince",
  "syncAddedOn",
  "syncChangedOn",
  "suspendedOn",
  "formPending",
  "suspendedBy",
  "predecessorId",
  "successorId",
  "retireOld",
  "retiredOn",
  "successorPlan",
  "version",
] as const satisfies readonly (keyof LicenceRecord)[];

/** Back to a record; an absent optional attribute is an absent property (not one set to undefined). */
function toLicence(item: Item): LicenceRecord {
  const record: LicenceRecord = {
    id: item.id as string,
    name: item.name as string,
    ip: item.ip as string,
    pricelist: item.pricelist as string,
    status: item.status as LicenceStatus,
    statusCode: item.statusCode as string,
    autoRenew: (item.autoRenew ?? null) as LicenceRecord["autoRenew"],
    updatedAt: item.updatedAt as string,
  };
  const optional = record as unknown as Record<string, unknown>;
  for (const field of OPTIONAL_LICENCE_FIELDS) if (item[field] !== undefined) optional[field] = item[field];
  const wrote = DESK_WRITTEN.filter((field) => typeof item[`${WROTE}${field}`] === "string");
  if (wrote.length > 0)
    record.deskWrites = Object.fromEntries(wrote.map((field) => [field, item[`${WROTE}${field}`] as string]));
  return record;
}

function pick(item: Item, names: readonly string[]): Item {
  return Object.fromEntries(names.map((name) => [name, item[name]]));
}
