import { randomBytes } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { LicenceStatus } from "../billmgr/licence.ts";
import { BY_EXPIRY_INDEX, BY_STATUS_INDEX, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE } from "./table.ts";
import {
  type AlertLedger,
  type AuditEntry,
  type AuditLog,
  type ClaimResult,
  type IdempotencyRecord,
  type IdempotencyStore,
  InvalidCursorError,
  type LicenceQuery,
  type LicenceRecord,
  type LicenceStore,
  type Register,
  type StoredResponse,
} from "./types.ts";

export interface DynamoRegisterOptions {
  client: DynamoDBClient;
  tableName: string;
}

/** `saveContext`, `complete` or `markUnknown` on a key with no record (never claimed, or released). */
export class IdempotencyRecordNotFoundError extends Error {
  override readonly name = "IdempotencyRecordNotFoundError";
}

/** Sorts after every real date, so licences without an expiry come last. */
export const NO_EXPIRY = "9999-12-31";
const LICENCE_SK = "LICENCE";
const LICENCE_GSI1PK = "LICENCE";
const IDEM_SK = "IDEM";

type Item = Record<string, unknown>;

// Keys of the items, in one place.
export const licenceKey = (id: string) => ({ [PARTITION_KEY]: `LIC#${id}`, [SORT_KEY]: LICENCE_SK });
export const licenceExpirySortKey = (record: Pick<LicenceRecord, "id" | "expiresOn">) =>
  `${record.expiresOn ?? NO_EXPIRY}#${record.id}`;
export const licenceStatusPartition = (status: LicenceStatus) => `STATUS#${status}`;
export const auditPartition = (licenceId: string | undefined) => `AUDIT#${licenceId ?? "none"}`;
/**
 * `IDEM#<scope>#<key>`. `%` and `#` in the scope are escaped so that no two (scope, key) pairs share an
 * item (scope `a#b` + key `c` versus scope `a` + key `b#c`): one client never sees another's answer.
 */
export const idempotencyKey = (scope: string, key: string) => ({
  [PARTITION_KEY]: `IDEM#${scope.replaceAll("%", "%25").replaceAll("#", "%23")}#${key}`,
  [SORT_KEY]: IDEM_SK,
});

/** The register on one DynamoDB table (see `table.ts`). Build it once per container and reuse it. */
export function createDynamoRegister(options: DynamoRegisterOptions): Register {
  const doc = DynamoDBDocumentClient.from(options.client, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const table = options.tableName;
  return {
    licences: licenceStore(doc, table),
    audit: auditLog(doc, table),
    idempotency: idempotencyStore(doc, table),
    alerts: alertLedger(doc, table),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Alerts sent

export const alertKey = (subject: string, kind: string, threshold: string) => ({
  [PARTITION_KEY]: `ALERT#${subject}`,
  [SORT_KEY]: `${kind}#${threshold}`,
});

function alertLedger(doc: DynamoDBDocumentClient, table: string): AlertLedger {
  return {
    async claim(subject, kind, threshold, night) {
      // Already sent: a read says so, and a rerun of a night writes nothing.
      const { Item } = await doc.send(
        new GetCommand({ TableName: table, Key: alertKey(subject, kind, threshold), ConsistentRead: true }),
      );
      if (Item) return false;
      try {
        await doc.send(
          new PutCommand({
            TableName: table,
            Item: { ...alertKey(subject, kind, threshold), night, at: new Date().toISOString() },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
        return true;
      } catch (error) {
        if ((error as { name?: string }).name === "ConditionalCheckFailedException") return false;
        throw error;
      }
    },
    async release(subject, kind, threshold) {
      await doc.send(new DeleteCommand({ TableName: table, Key: alertKey(subject, kind, threshold) }));
    },
    async recorded(entries) {
      const found = new Set<string>();
      const keys = [
        ...new Map(entries.map((e) => [`${e.subject}|${e.kind}|${e.threshold}`, e])).values(),
      ].map((e) => alertKey(e.subject, e.kind, e.threshold));
      // BatchGetItem takes 100 keys; what DynamoDB leaves unprocessed is asked again.
      for (let i = 0; i < keys.length; i += 100) {
        let pending: Record<string, unknown>[] | undefined = keys.slice(i, i + 100);
        while (pending && pending.length > 0) {
          const result = await doc.send(
            new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
          );
          for (const item of result.Responses?.[table] ?? []) {
            const subject = String(item[PARTITION_KEY]).slice("ALERT#".length);
            const sort = String(item[SORT_KEY]);
            const cut = sort.indexOf("#");
            found.add(`${subject}|${sort.slice(0, cut)}|${sort.slice(cut + 1)}`);
          }
          pending = result.UnprocessedKeys?.[table]?.Keys as Record<string, unknown>[] | undefined;
        }
      }
      return found;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Licences

function licenceStore(doc: DynamoDBDocumentClient, table: string): LicenceStore {
  return {
    async get(id) {
      const { Item } = await doc.send(
        new GetCommand({ TableName: table, Key: licenceKey(id), ConsistentRead: true }),
      );
      return Item ? toLicence(Item) : undefined;
    },

    async put(record) {
      const gsi1sk = licenceExpirySortKey(record);
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: {
            ...fromLicence(record),
            ...licenceKey(record.id),
            gsi1pk: LICENCE_GSI1PK,
            gsi1sk,
            gsi2pk: licenceStatusPartition(record.status),
          },
        }),
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
  if (query.expiresBefore !== undefined) {
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
    (query.expiresBefore !== undefined && !(sortKey < query.expiresBefore))
  )
    throw invalid();
  return k;
}

function fromLicence(record: LicenceRecord): Item {
  return {
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
    formPending: record.formPending,
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
  "formPending",
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
  return record;
}

// ---------------------------------------------------------------------------------------------------------
// Audit

function auditLog(doc: DynamoDBDocumentClient, table: string): AuditLog {
  return {
    async record(entry) {
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: {
            ...fromAudit(entry),
            [PARTITION_KEY]: auditPartition(entry.licenceId),
            // The random suffix keeps two entries of the same millisecond apart.
            [SORT_KEY]: `${entry.at}#${randomBytes(8).toString("hex")}`,
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    },

    async forLicence(licenceId, limit) {
      if (!Number.isInteger(limit) || limit < 1)
        throw new RangeError(`limit must be a positive integer, got ${limit}`);
      const entries: AuditEntry[] = [];
      let startKey: Item | undefined;
      do {
        const page = await doc.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: "pk = :p",
            ExpressionAttributeValues: { ":p": auditPartition(licenceId) },
            ScanIndexForward: false,
            Limit: limit - entries.length,
            ExclusiveStartKey: startKey,
          }),
        );
        entries.push(...(page.Items ?? []).map(toAudit));
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined && entries.length < limit);
      return entries;
    },
  };
}

function fromAudit(entry: AuditEntry): Item {
  return {
    at: entry.at,
    client: entry.client,
    operation: entry.operation,
    licenceId: entry.licenceId,
    params: entry.params,
    outcome: entry.outcome,
    error: entry.error,
    durationMs: entry.durationMs,
  };
}

function toAudit(item: Item): AuditEntry {
  return {
    at: item.at as string,
    client: item.client as string,
    operation: item.operation as string,
    licenceId: item.licenceId as string | undefined,
    params: (item.params ?? {}) as AuditEntry["params"],
    outcome: item.outcome as AuditEntry["outcome"],
    error: item.error as string | undefined,
    durationMs: item.durationMs as number,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Idempotency

function idempotencyStore(doc: DynamoDBDocumentClient, table: string): IdempotencyStore {
  const read = async (scope: string, key: string) => {
    const { Item } = await doc.send(
      new GetCommand({ TableName: table, Key: idempotencyKey(scope, key), ConsistentRead: true }),
    );
    return Item ? toIdempotency(Item) : undefined;
  };

  const tryClaim = async (
    record: Omit<IdempotencyRecord, "status" | "response">,
    nowSeconds: number,
  ): Promise<boolean> => {
    try {
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: {
            scope: record.scope,
            key: record.key,
            requestHash: record.requestHash,
            status: "in_progress",
            context: record.context,
            lockedUntil: record.lockedUntil,
            [TTL_ATTRIBUTE]: record.expiresAt,
            ...idempotencyKey(record.scope, record.key),
          },
          // A record past its expiry may linger until TTL deletes it (up to days): it counts as absent.
          ConditionExpression: "attribute_not_exists(pk) OR #expiresAt < :now",
          ExpressionAttributeNames: { "#expiresAt": TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ":now": nowSeconds },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  };

  /** An update of a record that must exist: a missing one is `IdempotencyRecordNotFoundError`. */
  const updateExisting = async (
    scope: string,
    key: string,
    update: string,
    names: Record<string, string>,
    values: Record<string, unknown>,
  ) => {
    try {
      await doc.send(
        new UpdateCommand({
          TableName: table,
          Key: idempotencyKey(scope, key),
          UpdateExpression: update,
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (isConditionFailure(error))
        throw new IdempotencyRecordNotFoundError("no idempotency record for this key");
      throw error;
    }
  };

  const setStatus = async (
    scope: string,
    key: string,
    status: IdempotencyRecord["status"],
    response?: StoredResponse,
  ) => {
    const names: Record<string, string> = { "#status": "status" };
    const values: Record<string, unknown> = { ":status": status };
    let update = "SET #status = :status";
    if (response !== undefined) {
      update += ", #response = :response";
      names["#response"] = "response";
      values[":response"] = JSON.stringify({ statusCode: response.statusCode, body: response.body });
    }
    await updateExisting(scope, key, update, names, values);
  };

  return {
    async claim(record, nowMs): Promise<ClaimResult> {
      const nowSeconds = Math.floor(nowMs / 1000);
      // A repeat finds its record with a read, and writes nothing (a replay costs no write capacity).
      const seen = await read(record.scope, record.key);
      if (seen && seen.expiresAt >= nowSeconds) return { claimed: false, existing: seen };
      // Two rounds: if the record that beat us vanishes before we read it (released, or deleted by TTL),
      // the key is free again and we try once more.
      for (let attempt = 0; attempt < 2; attempt++) {
        if (await tryClaim(record, nowSeconds)) return { claimed: true };
        const existing = await read(record.scope, record.key);
        if (existing) return { claimed: false, existing };
      }
      throw new Error("idempotency claim: the key is changing too fast to claim or read; try again");
    },
    find: read,
    async saveContext(scope, key, context) {
      await updateExisting(
        scope,
        key,
        "SET #context = :context",
        { "#context": "context" },
        { ":context": context },
      );
    },
    complete: (scope, key, response) => setStatus(scope, key, "completed", response),
    markUnknown: (scope, key) => setStatus(scope, key, "unknown"),
    async release(scope, key) {
      await doc.send(new DeleteCommand({ TableName: table, Key: idempotencyKey(scope, key) }));
    },
  };
}

function toIdempotency(item: Item): IdempotencyRecord {
  return {
    scope: item.scope as string,
    key: item.key as string,
    requestHash: item.requestHash as string,
    status: item.status as IdempotencyRecord["status"],
    context: (item.context ?? {}) as Record<string, string>,
    response: typeof item.response === "string" ? parseResponse(item.response) : undefined,
    lockedUntil: item.lockedUntil as number,
    expiresAt: item[TTL_ATTRIBUTE] as number,
  };
}

function parseResponse(json: string): StoredResponse {
  const parsed = JSON.parse(json) as { statusCode: number; body?: unknown };
  return { statusCode: parsed.statusCode, body: parsed.body };
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

function pick(item: Item, names: readonly string[]): Item {
  return Object.fromEntries(names.map((name) => [name, item[name]]));
}
