import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import {
  type ClaimResult,
  type IdempotencyRecord,
  type IdempotencyStore,
  type IntentRef,
  KeyContendedError,
  type MoneyAnswer,
  type Refusal,
} from "../../domain/ports/intent-store.ts";
import type { LicenceRecord } from "../../domain/ports/licence-store.ts";
import { conditional, conditionalWrite } from "./conditional.ts";
import { batchGet, queryAll } from "./queries.ts";
import { BY_STATUS_INDEX, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE } from "./table.ts";

/** `markSent`, `markUnknown` or `markApplied` on a key with no record (never claimed, or released). */
export class IdempotencyRecordNotFoundError extends Error {
  override readonly name = "IdempotencyRecordNotFoundError";
}

const IDEM_SK = "IDEM";
/** Sent intents not completed yet share one partition of the status index, oldest first. */
export const UNRESOLVED_PARTITION = "INTENT#unresolved";

type Item = Record<string, unknown>;

/**
 * `IDEM#<scope>#<key>`. `%` and `#` in the scope are escaped so that no two (scope, key) pairs share an
 * item (scope `a#b` + key `c` versus scope `a` + key `b#c`): one client never sees another's answer.
 */
export const idempotencyKey = (scope: string, key: string) => ({
  [PARTITION_KEY]: `IDEM#${scope.replaceAll("%", "%25").replaceAll("#", "%23")}#${key}`,
  [SORT_KEY]: IDEM_SK,
});
const renewingKey = (licenceId: string) => ({ [PARTITION_KEY]: `RENEWING#${licenceId}`, [SORT_KEY]: "LOCK" });
/** An IP's order slot (`<generation>#<canonical IP>`): one order in flight per IP and product line. */
const orderingKey = (slot: string) => ({ [PARTITION_KEY]: `ORDERING#${slot}`, [SORT_KEY]: "LOCK" });
/** Where an order's claim of its new licence id is kept (`claimLicenceId`). */
export const orderedKey = (licenceId: string) => ({
  [PARTITION_KEY]: `ORDERED#${licenceId}`,
  [SORT_KEY]: "INTENT",
});

/**
 * Where each claim is also noted by time (`CLAIMS`, `<ISO instant>#<licence id>`), kept a week: the sync
 * asks in one query which ids were claimed while it wrote, instead of reading a claim item per licence.
 */
export const CLAIMS_LOG = "CLAIMS";
const CLAIMS_LOG_DAYS = 7;

/** Money intents on the register's table: conditional writes only, so concurrent callers never both win. */
export function intentStore(doc: DynamoDBDocumentClient, table: string): IdempotencyStore {
  const read = async (scope: string, key: string) => {
    const { Item } = await doc.send(
      new GetCommand({ TableName: table, Key: idempotencyKey(scope, key), ConsistentRead: true }),
    );
    return Item ? toIntent(Item) : undefined;
  };

  /**
   * An update under a condition: undefined when the condition failed, else the item as written
   * (with `returnItem`; an empty object without).
   */
  const updated = async (
    key: Item,
    update: string,
    condition: string,
    names: Record<string, string>,
    values: Record<string, unknown>,
    returnItem = false,
  ): Promise<Item | undefined> => {
    const written = await conditionalWrite(
      doc,
      new UpdateCommand({
        TableName: table,
        Key: key,
        UpdateExpression: update,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ...(Object.keys(values).length > 0 && { ExpressionAttributeValues: values }),
        ...(returnItem && { ReturnValues: "ALL_NEW" as const }),
      }),
    );
    return written && (written.Attributes ?? {});
  };
  /** An update under a condition; false when the condition failed. */
  const updatedIf = async (
    key: Item,
    update: string,
    condition: string,
    names: Record<string, string>,
    values: Record<string, unknown>,
  ): Promise<boolean> => (await updated(key, update, condition, names, values)) !== undefined;

  const tryClaim = (record: Parameters<IdempotencyStore["claim"]>[0], nowSeconds: number) =>
    conditional(
      doc,
      new PutCommand({
        TableName: table,
        Item: {
          scope: record.scope,
          key: record.key,
          requestHash: record.requestHash,
          operation: record.operation,
          request: JSON.stringify(record.request),
          status: "in_progress",
          lockedUntil: record.lockedUntil,
          // A claim that never sends expires; `markSent` removes this, so a sent intent never does.
          [TTL_ATTRIBUTE]: record.expiresAt,
          ...idempotencyKey(record.scope, record.key),
        },
        // A record past its expiry may linger until TTL deletes it (up to days): it counts as absent.
        ConditionExpression: "attribute_not_exists(pk) OR #expiresAt < :now",
        ExpressionAttributeNames: { "#expiresAt": TTL_ATTRIBUTE },
        ExpressionAttributeValues: { ":now": nowSeconds },
      }),
    );

  /** Writes `owner` into a one-owner item (a licence's hold, an order's id claim): true when it is (now) theirs. */
  const own = (itemKey: Record<string, unknown>, owner: IntentRef): Promise<boolean> =>
    conditional(
      doc,
      new PutCommand({
        TableName: table,
        Item: { ...itemKey, scope: owner.scope, key: owner.key },
        ConditionExpression: "attribute_not_exists(pk) OR (#scope = :scope AND #key = :key)",
        ExpressionAttributeNames: { "#scope": "scope", "#key": "key" },
        ExpressionAttributeValues: { ":scope": owner.scope, ":key": owner.key },
      }),
    );

  /** One holder of a slot at a time: held, or who holds it. */
  async function hold(
    itemKey: Record<string, unknown>,
    owner: IntentRef,
    what: string,
  ): Promise<{ held: true } | { held: false; owner: IntentRef }> {
    // A holder that frees it between our write and our read leaves it free: try again, a few times.
    for (let round = 0; round < 3; round++) {
      if (await own(itemKey, owner)) return { held: true };
      const { Item } = await doc.send(
        new GetCommand({ TableName: table, Key: itemKey, ConsistentRead: true }),
      );
      if (Item) return { held: false, owner: { scope: Item.scope as string, key: Item.key as string } };
    }
    throw new Error(`${what}: its hold changed hands three times in a row`);
  }

  /** Frees a slot if `owner` still holds it. */
  async function free(itemKey: Record<string, unknown>, owner: IntentRef): Promise<void> {
    await conditional(
      doc,
      new DeleteCommand({
        TableName: table,
        Key: itemKey,
        ConditionExpression: "#scope = :scope AND #key = :key",
        ExpressionAttributeNames: { "#scope": "scope", "#key": "key" },
        ExpressionAttributeValues: { ":scope": owner.scope, ":key": owner.key },
      }),
    );
  }

  return {
    async claim(record, nowMs): Promise<ClaimResult> {
      const nowSeconds = Math.floor(nowMs / 1000);
      // The write first: most keys are new, and a new one is claimed in one round trip. A repeat pays a
      // refused conditional write before its read (the claim's condition is the whole check: an expired
      // record is overwritten, a live one refuses).
      // Two rounds: if the record that beat us vanishes before we read it (released, or deleted by TTL),
      // the key is free again and we try once more.
      for (let attempt = 0; attempt < 2; attempt++) {
        if (await tryClaim(record, nowSeconds)) return { claimed: true };
        const existing = await read(record.scope, record.key);
        if (existing) return { claimed: false, existing };
      }
      throw new KeyContendedError("idempotency claim: the key is changing too fast to claim or read");
    },

    find: read,

    takeOver: (scope, key, nowMs, lockedUntil) =>
      updatedIf(
        idempotencyKey(scope, key),
        "SET lockedUntil = :until",
        "#status = :in_progress AND attribute_not_exists(sentAt) AND lockedUntil < :now",
        { "#status": "status" },
        { ":until": lockedUntil, ":in_progress": "in_progress", ":now": nowMs },
      ),

    async markSent(scope, key, context, sentAt, lock) {
      const done = await updatedIf(
        idempotencyKey(scope, key),
        "SET #context = :context, sentAt = :sentAt, gsi2pk = :unresolved, gsi1sk = :order REMOVE #expiresAt",
        "#status = :in_progress AND attribute_not_exists(sentAt) AND lockedUntil = :lock",
        { "#context": "context", "#status": "status", "#expiresAt": TTL_ATTRIBUTE },
        {
          ":context": context,
          ":sentAt": sentAt,
          ":unresolved": UNRESOLVED_PARTITION,
          ":order": `${new Date(sentAt).toISOString()}#${idempotencyKey(scope, key)[PARTITION_KEY]}`,
          ":in_progress": "in_progress",
          ":lock": lock,
        },
      );
      if (!done) throw new IdempotencyRecordNotFoundError("the intent is no longer ours to send");
    },

    // Only an in-flight record becomes unknown: one already applied or completed stays as it is.
    async markUnknown(scope, key) {
      await updatedIf(
        idempotencyKey(scope, key),
        // Its holder is done with it: the lock goes, so a reconcile may lease it once the window passes.
        "SET #status = :unknown, lockedUntil = :zero",
        "#status = :in_progress",
        { "#status": "status" },
        { ":unknown": "unknown", ":in_progress": "in_progress", ":zero": 0 },
      );
    },

    async markApplied(scope, key, facts) {
      await updatedIf(
        idempotencyKey(scope, key),
        "SET #status = :applied, facts = :facts",
        "attribute_exists(pk) AND #status <> :completed",
        { "#status": "status" },
        { ":applied": "applied", ":facts": facts, ":completed": "completed" },
      );
    },

    async complete(scope, key, answer, expiresAt) {
      // The record as written comes back with the write: no read after it unless the write lost.
      const written = await updated(
        idempotencyKey(scope, key),
        "SET #status = :completed, #response = :response, #outcome = :outcome, #expiresAt = :expiresAt REMOVE gsi2pk, gsi1sk",
        "attribute_exists(pk) AND #status <> :completed",
        {
          "#status": "status",
          "#response": "response",
          "#outcome": "outcome",
          "#expiresAt": TTL_ATTRIBUTE,
        },
        {
          ":completed": "completed",
          ":response": JSON.stringify(
            answer.outcome === "applied" ? { licence: answer.licence } : { refusal: answer.refusal },
          ),
          ":outcome": answer.outcome,
          ":expiresAt": expiresAt,
        },
        true,
      );
      if (written) return toIntent(written);
      const record = await read(scope, key);
      if (!record) throw new IdempotencyRecordNotFoundError("no idempotency record for this key");
      if (record.status === "completed") return record;
      throw new Error("idempotency complete: the record changed under us");
    },

    release: (scope, key, ownLock) =>
      conditional(
        doc,
        new DeleteCommand({
          TableName: table,
          Key: idempotencyKey(scope, key),
          ...(ownLock !== undefined && {
            ConditionExpression: "lockedUntil = :lock",
            ExpressionAttributeValues: { ":lock": ownLock },
          }),
        }),
      ),

    async unresolved(limit) {
      const items = await queryAll(
        doc,
        {
          TableName: table,
          IndexName: BY_STATUS_INDEX,
          KeyConditionExpression: "gsi2pk = :p",
          ExpressionAttributeValues: { ":p": UNRESOLVED_PARTITION },
        },
        limit,
      );
      return items.map(toIntent);
    },

    lease: (scope, key, nowMs, until) =>
      updatedIf(
        idempotencyKey(scope, key),
        // To the back of the unresolved list: the next pass looks at the others first.
        "SET lockedUntil = :until, gsi1sk = :order",
        "attribute_exists(sentAt) AND #status <> :completed AND lockedUntil < :now",
        { "#status": "status" },
        {
          ":until": until,
          ":completed": "completed",
          ":now": nowMs,
          ":order": `${new Date(nowMs).toISOString()}#${idempotencyKey(scope, key)[PARTITION_KEY]}`,
        },
      ),

    endLease: (scope, key, until) =>
      updatedIf(
        idempotencyKey(scope, key),
        "SET lockedUntil = :zero",
        "lockedUntil = :until AND #status <> :completed",
        { "#status": "status" },
        { ":zero": 0, ":until": until, ":completed": "completed" },
      ),

    async markUndecided(scope, key, reason, atMs) {
      await updatedIf(
        idempotencyKey(scope, key),
        "SET undecided = :reason, undecidedSince = if_not_exists(undecidedSince, :at)",
        "attribute_exists(sentAt) AND #status <> :completed",
        { "#status": "status" },
        { ":reason": reason, ":at": atMs, ":completed": "completed" },
      );
    },

    holdLicence: (licenceId, owner) => hold(renewingKey(licenceId), owner, `licence ${licenceId}`),
    freeLicence: (licenceId, owner) => free(renewingKey(licenceId), owner),
    holdOrder: (slot, owner) => hold(orderingKey(slot), owner, `the order slot ${slot}`),
    freeOrder: (slot, owner) => free(orderingKey(slot), owner),

    async claimLicenceId(licenceId, owner) {
      if (!(await own(orderedKey(licenceId), owner))) return false;
      // After the claim and before the order writes its record: a record the sync's batch may have
      // written over is always in the log by the time the sync reads it (`claimedSince`).
      const at = Date.now();
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: {
            [PARTITION_KEY]: CLAIMS_LOG,
            [SORT_KEY]: `${new Date(at).toISOString()}#${licenceId}`,
            licenceId,
            scope: owner.scope,
            key: owner.key,
            [TTL_ATTRIBUTE]: Math.floor(at / 1000) + CLAIMS_LOG_DAYS * 86_400,
          },
        }),
      );
      return true;
    },

    async claimedSince(sinceMs) {
      const owners = new Map<string, IntentRef>();
      const items = await queryAll(doc, {
        TableName: table,
        KeyConditionExpression: "#pk = :p AND #sk >= :since",
        ExpressionAttributeNames: { "#pk": PARTITION_KEY, "#sk": SORT_KEY },
        ExpressionAttributeValues: { ":p": CLAIMS_LOG, ":since": new Date(sinceMs).toISOString() },
        ConsistentRead: true,
      });
      for (const item of items)
        owners.set(item.licenceId as string, { scope: item.scope as string, key: item.key as string });
      return owners;
    },

    async licenceIdOwners(licenceIds) {
      const owners = new Map<string, IntentRef>();
      for (const item of await batchGet(doc, table, licenceIds.map(orderedKey))) {
        const licenceId = String(item[PARTITION_KEY]).slice("ORDERED#".length);
        owners.set(licenceId, { scope: item.scope as string, key: item.key as string });
      }
      return owners;
    },
  };
}

function toIntent(item: Item): IdempotencyRecord {
  return {
    scope: item.scope as string,
    key: item.key as string,
    requestHash: item.requestHash as string,
    operation: (item.operation as string | undefined) ?? "",
    request: typeof item.request === "string" ? JSON.parse(item.request) : undefined,
    status: item.status as IdempotencyRecord["status"],
    context: (item.context ?? {}) as Record<string, string>,
    facts: (item.facts ?? {}) as Record<string, string>,
    response:
      typeof item.response === "string" ? keptAnswer(item.response, item.outcome as string) : undefined,
    outcome: item.outcome as IdempotencyRecord["outcome"],
    lockedUntil: item.lockedUntil as number,
    sentAt: item.sentAt as number | undefined,
    expiresAt: item[TTL_ATTRIBUTE] as number | undefined,
    undecided:
      typeof item.undecided === "string"
        ? { reason: item.undecided, since: item.undecidedSince as number }
        : undefined,
  };
}

/**
 * A kept answer. Answers kept before the desk spoke in outcomes are `{statusCode, body}`, the body the
 * licence or the error envelope: read here, and only here, by the record's outcome.
 */
function keptAnswer(json: string, outcome: string): MoneyAnswer {
  const kept = JSON.parse(json) as {
    licence?: LicenceRecord;
    refusal?: Refusal;
    body?: LicenceRecord & { error?: Refusal };
  };
  if (outcome === "applied") return { outcome, licence: (kept.licence ?? kept.body) as LicenceRecord };
  return { outcome: "not_applied", refusal: (kept.refusal ?? kept.body?.error) as Refusal };
}
