import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import {
  type AlertKey,
  type AlertLedger,
  alertKeyText,
  type PendingAlert,
} from "../../domain/ports/alert-ledger.ts";
import { conditional } from "./conditional.ts";
import { nightKey } from "./night-ledger.ts";
import { batchGet, queryAll } from "./queries.ts";
import { PARTITION_KEY, SORT_KEY } from "./table.ts";

type Item = Record<string, unknown>;

/** A sent alert: `ALERT#<subject>`, `<kind>#<threshold>` (the ledger's key since its first version). */
export const alertKey = (subject: string, kind: string, threshold: string) => ({
  [PARTITION_KEY]: `ALERT#${subject}`,
  [SORT_KEY]: `${kind}#${threshold}`,
});
/** Alerts recorded and not sent yet share one partition: few at a time, each dropped once sent. */
export const PENDING_ALERTS = "ALERTS#PENDING";
export const pendingAlertKey = (key: AlertKey) => ({
  [PARTITION_KEY]: PENDING_ALERTS,
  [SORT_KEY]: alertKeyText(key),
});
/** The night that raised an alert, for its summary. */
export const nightAlertKey = (night: string, key: AlertKey) => ({
  [PARTITION_KEY]: nightKey(night),
  [SORT_KEY]: `ALERT#${alertKeyText(key)}`,
});

/** At most 16 requests in flight, results in order. */
async function inParallel<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, items.length) }, worker));
  return results;
}

/**
 * The alert ledger on the register's table. Three items per alert, none needing a transaction (dynalite
 * has none): the night's index entry, then the pending entry (the alert to send, its mail rendered),
 * and, once sent, the ledger entry, after which the pending one is deleted. A run killed between any two
 * of these writes leaves the alert either still to record (its cause was not written yet either) or
 * pending (sent by the next run); a pending entry found already sent is dropped without sending.
 */
export function alertLedger(doc: DynamoDBDocumentClient, table: string): AlertLedger {
  /** The items of these keys that exist: consistent batched reads, unprocessed keys asked again after a backoff. */
  const existing = (keys: Item[]): Promise<Item[]> => batchGet(doc, table, keys);

  /** BatchWriteItem, 25 requests at a time, unprocessed ones sent again. */
  async function batchWrite(requests: Item[]): Promise<void> {
    for (let i = 0; i < requests.length; i += 25) {
      let pending: Item[] = requests.slice(i, i + 25);
      while (pending.length > 0) {
        const result = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending as never } }));
        pending = (result.UnprocessedItems?.[table] ?? []) as Item[];
      }
    }
  }

  const unique = <T extends AlertKey>(keys: readonly T[]): T[] => [
    ...new Map(keys.map((k) => [alertKeyText(k), k])).values(),
  ];

  /** `subject|kind|threshold` of a ledger or pending item. */
  const textOf = (item: Item) =>
    item[PARTITION_KEY] === PENDING_ALERTS
      ? String(item[SORT_KEY])
      : alertKeyText({
          subject: String(item.subject ?? String(item[PARTITION_KEY]).slice("ALERT#".length)),
          kind: String(item.kind ?? String(item[SORT_KEY]).split("#")[0]),
          threshold: String(item.threshold ?? String(item[SORT_KEY]).split("#").slice(1).join("#")),
        });

  async function sent(keys: readonly AlertKey[]): Promise<Set<string>> {
    const items = await existing(unique(keys).map((k) => alertKey(k.subject, k.kind, k.threshold)));
    return new Set(items.map(textOf));
  }

  async function recorded(keys: readonly AlertKey[]): Promise<Set<string>> {
    const list = unique(keys);
    const items = await existing([
      ...list.map((k) => alertKey(k.subject, k.kind, k.threshold)),
      ...list.map(pendingAlertKey),
    ]);
    return new Set(items.map(textOf));
  }

  return {
    recorded,
    sent,

    async record(alerts) {
      const list = unique(alerts);
      const known = await recorded(list);
      const fresh = list.filter((a) => !known.has(alertKeyText(a)));
      const names = (a: AlertKey) => ({ subject: a.subject, kind: a.kind, threshold: a.threshold });
      // The night's index first: repeating it is harmless, and once a pending entry exists the night's
      // summary must find it.
      await batchWrite(
        fresh.map((a) => ({ PutRequest: { Item: { ...nightAlertKey(a.night, a), ...names(a) } } })),
      );
      const won = await inParallel(fresh, (alert) =>
        conditional(
          doc,
          new PutCommand({
            TableName: table,
            Item: {
              ...pendingAlertKey(alert),
              ...names(alert),
              night: alert.night,
              payload: alert.payload,
            },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        ),
      );
      return fresh.filter((_, i) => won[i]);
    },

    async pending() {
      const items = await queryAll(doc, {
        TableName: table,
        KeyConditionExpression: "pk = :p",
        ExpressionAttributeValues: { ":p": PENDING_ALERTS },
        ConsistentRead: true,
      });
      return items
        .map(
          (item): PendingAlert => ({
            subject: item.subject as string,
            kind: item.kind as string,
            threshold: item.threshold as string,
            night: item.night as string,
            payload: item.payload as string,
          }),
        )
        .sort((a, b) => a.night.localeCompare(b.night) || alertKeyText(a).localeCompare(alertKeyText(b)));
    },

    lease: (key, nowMs, untilMs) =>
      conditional(
        doc,
        new UpdateCommand({
          TableName: table,
          Key: pendingAlertKey(key),
          UpdateExpression: "SET leaseUntil = :until",
          ConditionExpression:
            "attribute_exists(pk) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)",
          ExpressionAttributeValues: { ":until": untilMs, ":now": nowMs },
        }),
      ),

    async unlease(key, untilMs) {
      // Only while the lease is still ours: one that ran out and was taken since is the taker's.
      await conditional(
        doc,
        new UpdateCommand({
          TableName: table,
          Key: pendingAlertKey(key),
          UpdateExpression: "REMOVE leaseUntil",
          ConditionExpression: "leaseUntil = :mine",
          ExpressionAttributeValues: { ":mine": untilMs },
        }),
      );
    },

    async markSent(alerts, at) {
      const list = unique(alerts);
      // Batched, so the time between the mail leaving and its ledger entry is as short as it can be.
      await batchWrite(
        list.map((a) => ({
          PutRequest: {
            Item: {
              ...alertKey(a.subject, a.kind, a.threshold),
              subject: a.subject,
              kind: a.kind,
              threshold: a.threshold,
              night: a.night,
              at,
            },
          },
        })),
      );
      await batchWrite(list.map((a) => ({ DeleteRequest: { Key: pendingAlertKey(a) } })));
    },
  };
}
