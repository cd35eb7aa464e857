import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { AlertKey } from "../../domain/ports/alert-ledger.ts";
import type {
  NightForecast,
  NightLedger,
  NightRecord,
  NightRenewal,
  NightSync,
} from "../../domain/ports/night-ledger.ts";
import { conditional } from "./conditional.ts";
import { queryAll } from "./queries.ts";
import { PARTITION_KEY, SORT_KEY } from "./table.ts";

type Item = Record<string, unknown>;

/** One partition per night: `RENEWAL#<licence id>` items, `ALERT#…` items (alert-ledger.ts), `SYNC`. */
export const nightKey = (night: string) => `NIGHT#${night}`;
export const nightRenewalKey = (night: string, licenceId: string) => ({
  [PARTITION_KEY]: nightKey(night),
  [SORT_KEY]: `RENEWAL#${licenceId}`,
});
const nightSyncKey = (night: string) => ({ [PARTITION_KEY]: nightKey(night), [SORT_KEY]: "SYNC" });
const nightForecastKey = (night: string) => ({ [PARTITION_KEY]: nightKey(night), [SORT_KEY]: "FORECAST" });

/** Each night's renewals, alerts and sync counts on the register's table: conditional writes only. */
export function nightLedger(doc: DynamoDBDocumentClient, table: string): NightLedger {
  const read = async (night: string, licenceId: string): Promise<NightRenewal> => {
    const { Item } = await doc.send(
      new GetCommand({ TableName: table, Key: nightRenewalKey(night, licenceId), ConsistentRead: true }),
    );
    if (!Item) throw new Error(`night ${night}: no renewal entry for licence ${licenceId}`);
    return toRenewal(Item);
  };

  const put = (night: string, renewal: NightRenewal, condition: string, values: Item) =>
    conditional(
      doc,
      new PutCommand({
        TableName: table,
        Item: { ...fromRenewal(renewal), ...nightRenewalKey(night, renewal.licenceId) },
        ConditionExpression: condition,
        ExpressionAttributeNames: { "#o": "outcome" },
        ExpressionAttributeValues: values,
      }),
    );

  return {
    async begin(night, renewal, nowMs) {
      // Free unless applied already, or held by a run whose lease is still running.
      const began = await put(
        night,
        renewal,
        "attribute_not_exists(pk) OR (#o <> :applied AND #o <> :started) OR (#o = :started AND leaseUntil < :now)",
        { ":applied": "applied", ":started": "started", ":now": nowMs },
      );
      return began ? { began: true } : { began: false, current: await read(night, renewal.licenceId) };
    },

    async settle(night, renewal) {
      const stored = { ...renewal, run: undefined, leaseUntil: undefined };
      const written = await put(night, stored, "attribute_not_exists(pk) OR #o <> :applied", {
        ":applied": "applied",
      });
      return written ? stored : read(night, renewal.licenceId);
    },

    async noteSync(night, sync) {
      await doc.send(
        new UpdateCommand({
          TableName: table,
          Key: nightSyncKey(night),
          // The forms left are what the last run to note them saw: they only fall as the night goes on.
          UpdateExpression:
            sync.formsLeft === undefined ? "SET listed = :l" : "SET listed = :l, formsLeft = :f",
          ExpressionAttributeValues: {
            ":l": sync.listed,
            ...(sync.formsLeft !== undefined && { ":f": sync.formsLeft }),
          },
        }),
      );
      // Each count only grows: a run that counted fewer (concurrently, from an earlier view) leaves it.
      const named = { added: sync.addedIds, updated: sync.updatedIds, gone: sync.goneIds };
      for (const field of ["added", "updated", "gone"] as const) {
        // The names go with the count that wins, so the two always tell the same view.
        const ids = named[field];
        await conditional(
          doc,
          new UpdateCommand({
            TableName: table,
            Key: nightSyncKey(night),
            UpdateExpression: ids === undefined ? "SET #f = :v" : "SET #f = :v, #i = :i",
            ConditionExpression: "attribute_not_exists(#f) OR #f < :v",
            ExpressionAttributeNames: { "#f": field, ...(ids !== undefined && { "#i": `${field}Ids` }) },
            ExpressionAttributeValues: { ":v": sync[field], ...(ids !== undefined && { ":i": ids }) },
          }),
        );
      }
    },

    async setForecast(night, forecast) {
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: { ...nightForecastKey(night), forecast: JSON.stringify(forecast) },
        }),
      );
    },

    async read(night) {
      const record: NightRecord = {
        renewals: [],
        alerts: [],
        sync: { listed: 0, added: 0, updated: 0, gone: 0 },
        forecast: undefined,
      };
      const items = await queryAll(doc, {
        TableName: table,
        KeyConditionExpression: "pk = :p",
        ExpressionAttributeValues: { ":p": nightKey(night) },
        ConsistentRead: true,
      });
      for (const item of items) {
        const sort = String(item[SORT_KEY]);
        if (sort.startsWith("RENEWAL#")) record.renewals.push(toRenewal(item));
        else if (sort.startsWith("ALERT#")) record.alerts.push(toAlertKey(item));
        else if (sort === "SYNC") record.sync = toSync(item);
        else if (sort === "FORECAST") record.forecast = JSON.parse(String(item.forecast)) as NightForecast;
      }
      return record;
    },
  };
}

function fromRenewal(renewal: NightRenewal): Item {
  return {
    licenceId: renewal.licenceId,
    name: renewal.name,
    outcome: renewal.outcome,
    from: renewal.from,
    to: renewal.to,
    period: renewal.period,
    reason: renewal.reason,
    detail: renewal.detail,
    run: renewal.run,
    leaseUntil: renewal.leaseUntil,
    at: renewal.at,
  };
}

function toRenewal(item: Item): NightRenewal {
  return {
    licenceId: item.licenceId as string,
    name: item.name as string,
    outcome: item.outcome as NightRenewal["outcome"],
    from: item.from as string | undefined,
    to: item.to as string | undefined,
    period: item.period as number,
    reason: item.reason as string,
    detail: item.detail as string | undefined,
    run: item.run as string | undefined,
    leaseUntil: item.leaseUntil as number | undefined,
    at: item.at as string,
  };
}

function toAlertKey(item: Item): AlertKey {
  return { subject: item.subject as string, kind: item.kind as string, threshold: item.threshold as string };
}

function toSync(item: Item): NightSync {
  const n = (v: unknown) => (typeof v === "number" ? v : 0);
  const ids = (v: unknown) => (Array.isArray(v) ? (v as string[]) : undefined);
  return {
    listed: n(item.listed),
    added: n(item.added),
    updated: n(item.updated),
    gone: n(item.gone),
    ...(ids(item.addedIds) && { addedIds: ids(item.addedIds) }),
    ...(ids(item.updatedIds) && { updatedIds: ids(item.updatedIds) }),
    ...(ids(item.goneIds) && { goneIds: ids(item.goneIds) }),
    ...(typeof item.formsLeft === "number" && { formsLeft: item.formsLeft }),
  };
}
