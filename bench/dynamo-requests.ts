import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";

/** One request the client sent: when, on what item (the first, for batches), and what it would cost. */
export interface RequestSeen {
  at: number;
  end: number;
  kind: string;
  /** The command's name, as the SDK gives it (`PutItemCommand`, `BatchWriteItemCommand`, …). */
  op: string;
  pk: string;
  sk: string;
  /** Write request units it would consume on on-demand DynamoDB (estimated: see `writeUnits`). */
  wru: number;
  /** Read request units it would consume (estimated: see `readUnits`). */
  rru: number;
}

export interface WriteSeen {
  op: string;
  /** What the item is, by its partition key: licence, idempotency, audit, alert, night. */
  kind: string;
  pk: string;
  sk: string;
}

export interface RequestCounter {
  operations: string[];
  writes: WriteSeen[];
  sentAt: RequestSeen[];
  reset(): void;
}

/**
 * Counts every request sent on the client (by command name), every item each write request writes,
 * and the request units each would consume on on-demand DynamoDB. The engine (dynalite) does not
 * charge its indexes, so the units are estimated here from the requests and answers, by AWS's rules:
 *
 * - a write: 1 WRU per KB (rounded up) of the item, on the table and again on each index it is in
 *   (both of the register's indexes project ALL, so a licence written is written three times, and one
 *   whose index key changes is also deleted from the index: one more unit there); an update's size is
 *   the item it returns (the register asks ALL_NEW for licences), 1 KB when it returns none; a
 *   transaction's writes count twice;
 * - a read: 1 RRU per 4 KB (rounded up) for a strongly consistent read, half for an eventually
 *   consistent one (every index query), per item for GetItem and BatchGetItem (a missing item costs
 *   the minimum), per request over the items returned for a Query.
 *
 * Conditional writes that fail are charged like writes that succeed.
 */
export function countRequests(client: DynamoDBClient): RequestCounter {
  const counter: RequestCounter = { operations: [], writes: [], sentAt: [], reset };
  function reset() {
    counter.operations = [];
    counter.writes = [];
    counter.sentAt = [];
  }
  const seen = (op: string, key: unknown) => {
    const k = (key ?? {}) as Record<string, unknown>;
    const pk = attribute(k.pk);
    counter.writes.push({ op, kind: kindOf(pk), pk, sk: attribute(k.sk) });
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = context.commandName ?? "unknown";
      counter.operations.push(op);
      const input = args.input as Record<string, unknown>;
      const key = (input.Key ?? input.Item ?? {}) as Record<string, unknown>;
      const pk = attribute(key.pk);
      const timing: RequestSeen = {
        at: performance.now(),
        end: 0,
        kind: kindOf(pk),
        op,
        pk,
        sk: attribute(key.sk),
        wru: 0,
        rru: 0,
      };
      counter.sentAt.push(timing);
      if (op === "PutItemCommand") seen("Put", input.Item);
      else if (op === "UpdateItemCommand") seen("Update", input.Key);
      else if (op === "DeleteItemCommand") seen("Delete", input.Key);
      else if (op === "BatchWriteItemCommand") {
        for (const request of batchRequests(input)) {
          if (request.PutRequest) seen("BatchPut", request.PutRequest.Item);
          if (request.DeleteRequest) seen("BatchDelete", request.DeleteRequest.Key);
        }
      } else if (op === "TransactWriteItemsCommand") {
        for (const item of (input.TransactItems ?? []) as Array<
          Record<string, { Item?: unknown; Key?: unknown }>
        >) {
          if (item.Put) seen("TransactPut", item.Put.Item);
          if (item.Update) seen("TransactUpdate", item.Update.Key);
          if (item.Delete) seen("TransactDelete", item.Delete.Key);
        }
      }
      try {
        const result = await next(args);
        const output = (result.output ?? {}) as unknown as Record<string, unknown>;
        timing.wru = writeUnits(op, input, output);
        timing.rru = readUnits(op, input, output);
        return result;
      } catch (error) {
        // A conditional write refused is charged as if it had been written.
        timing.wru = writeUnits(op, input, {});
        throw error;
      } finally {
        timing.end = performance.now();
      }
    },
    { step: "initialize", name: "benchCountRequests" },
  );
  return counter;
}

type Item = Record<string, unknown>;

function batchRequests(input: Item): Array<{ PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }> {
  const tables = (input.RequestItems ?? {}) as Record<
    string,
    Array<{ PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }>
  >;
  return Object.values(tables).flat();
}

/** The indexes an item written whole is in: one per index partition key it carries. */
const indexesOf = (item: Item) => (item.gsi1pk === undefined ? 0 : 1) + (item.gsi2pk === undefined ? 0 : 1);

const kb = (item: Item | undefined) => Math.max(1, Math.ceil(itemBytes(item ?? {}) / 1024));

function writeUnits(op: string, input: Item, output: Item): number {
  switch (op) {
    case "PutItemCommand": {
      const item = (input.Item ?? {}) as Item;
      return kb(item) * (1 + indexesOf(item));
    }
    case "BatchWriteItemCommand":
      return batchRequests(input).reduce((units, request) => {
        if (request.PutRequest)
          return units + kb(request.PutRequest.Item) * (1 + indexesOf(request.PutRequest.Item));
        const licence = kindOf(attribute(request.DeleteRequest?.Key.pk)) === "licence";
        return units + (licence ? 3 : 1);
      }, 0);
    case "UpdateItemCommand": {
      const size = kb(output.Attributes as Item | undefined);
      const expression = String(input.UpdateExpression ?? "");
      const licence = kindOf(attribute((input.Key as Item | undefined)?.pk)) === "licence";
      // A licence is in both indexes: any change rewrites both copies; a new expiry (gsi1sk, the sort
      // key of both) or status (gsi2pk) moves it, deleting the old copy too.
      const indexes = licence
        ? 2 + (expression.includes("gsi1sk") ? 2 : 0) + (expression.includes("gsi2pk") ? 1 : 0)
        : expression.includes("gsi2pk") || expression.includes("gsi1sk")
          ? 1
          : 0;
      return size * (1 + indexes);
    }
    case "DeleteItemCommand":
      return kindOf(attribute((input.Key as Item | undefined)?.pk)) === "licence" ? 3 : 1;
    case "TransactWriteItemsCommand":
      return 2 * ((input.TransactItems as unknown[] | undefined)?.length ?? 0);
    default:
      return 0;
  }
}

function readUnits(op: string, input: Item, output: Item): number {
  const rate = (consistent: unknown) => (consistent === true ? 1 : 0.5);
  const per4k = (item: Item | undefined) => Math.max(1, Math.ceil(itemBytes(item ?? {}) / 4096));
  switch (op) {
    case "GetItemCommand":
      return per4k(output.Item as Item | undefined) * rate(input.ConsistentRead);
    case "BatchGetItemCommand": {
      let units = 0;
      const asked = (input.RequestItems ?? {}) as Record<
        string,
        { Keys?: unknown[]; ConsistentRead?: boolean }
      >;
      const found = (output.Responses ?? {}) as Record<string, Item[]>;
      for (const [table, request] of Object.entries(asked)) {
        const items = found[table] ?? [];
        const missing = Math.max(0, (request.Keys?.length ?? 0) - items.length);
        units += (items.reduce((sum, item) => sum + per4k(item), 0) + missing) * rate(request.ConsistentRead);
      }
      return units;
    }
    case "QueryCommand":
    case "ScanCommand": {
      const bytes = ((output.Items ?? []) as Item[]).reduce((sum, item) => sum + itemBytes(item), 0);
      return Math.max(1, Math.ceil(bytes / 4096)) * rate(input.ConsistentRead);
    }
    default:
      return 0;
  }
}

const MARSHALLED = new Set(["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"]);

/** An item's size as DynamoDB counts it (attribute names and values), marshalled or not. */
export function itemBytes(item: Item): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    bytes += Buffer.byteLength(name) + valueBytes(value);
  }
  return bytes;
}

function valueBytes(value: unknown): number {
  if (value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Set)) {
    const entries = Object.entries(value);
    const [type, inner] = entries[0] ?? [];
    if (entries.length === 1 && type !== undefined && MARSHALLED.has(type))
      return marshalledBytes(type, inner);
    return (
      3 +
      entries.reduce(
        (sum, [n, v]) => (v === undefined ? sum : sum + 1 + Buffer.byteLength(n) + valueBytes(v)),
        0,
      )
    );
  }
  if (typeof value === "string") return Buffer.byteLength(value);
  if (typeof value === "number") return numberBytes(String(value));
  if (typeof value === "boolean" || value === null) return 1;
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, v) => sum + 1 + valueBytes(v), 0);
  if (value instanceof Set) return [...value].reduce((sum: number, v) => sum + valueBytes(v), 0);
  if (value instanceof Uint8Array) return value.byteLength;
  return 0;
}

function marshalledBytes(type: string, inner: unknown): number {
  switch (type) {
    case "S":
      return Buffer.byteLength(String(inner));
    case "N":
      return numberBytes(String(inner));
    case "B":
      return (inner as Uint8Array).byteLength ?? 0;
    case "BOOL":
    case "NULL":
      return 1;
    case "M":
      return valueBytes(Object.fromEntries(Object.entries(inner as Item)));
    case "L":
      return 3 + (inner as unknown[]).reduce((sum: number, v) => sum + 1 + valueBytes(v), 0);
    default:
      return (inner as unknown[]).reduce((sum: number, v) => sum + valueBytes(v), 0);
  }
}

/** A number: about one byte per two significant digits, plus one. */
const numberBytes = (text: string) =>
  Math.ceil(
    text
      .replace(/e.*$/i, "")
      .replace(/[-.]/g, "")
      .replace(/^0+|0+$/g, "").length / 2,
  ) + 1;

/** A key attribute as the document client gives it (a string) or marshalled (`{S: ...}`). */
export function attribute(value: unknown): string {
  if (typeof value === "string") return value;
  const s = (value as { S?: unknown } | undefined)?.S;
  return typeof s === "string" ? s : "?";
}

export function kindOf(pk: string): string {
  const prefix = pk.split("#")[0] ?? "";
  return (
    { LIC: "licence", IDEM: "idempotency", AUDIT: "audit", ALERT: "alert", ALERTS: "alert", NIGHT: "night" }[
      prefix
    ] ?? prefix
  );
}
