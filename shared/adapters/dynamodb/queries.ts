import { setTimeout as sleep } from "node:timers/promises";
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
} from "@aws-sdk/lib-dynamodb";

type Item = Record<string, unknown>;

/**
 * Every item a query matches, page after page (DynamoDB stops a page at 1 MB), up to `limit` if given.
 * `onPage` sees each page's items as they come, for callers that sort them as they read.
 */
export async function queryAll(
  doc: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, "ExclusiveStartKey" | "Limit">,
  limit?: number,
): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        ...input,
        ...(limit !== undefined && { Limit: limit - items.length }),
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined && (limit === undefined || items.length < limit));
  return items;
}

/**
 * The items of these keys that exist, by consistent reads, 100 keys a request (BatchGetItem's limit);
 * keys DynamoDB leaves unprocessed are asked again, after a backoff, until none is left.
 */
export async function batchGet(
  doc: DynamoDBDocumentClient,
  table: string,
  keys: readonly Item[],
): Promise<Item[]> {
  const items: Item[] = [];
  for (let at = 0; at < keys.length; at += BATCH_GET) {
    let pending = keys.slice(at, at + BATCH_GET);
    for (let round = 0; pending.length > 0; round++) {
      if (round > 0) await sleep(backoffMs(round));
      const { Responses, UnprocessedKeys } = await doc.send(
        new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
      );
      items.push(...(Responses?.[table] ?? []));
      pending = (UnprocessedKeys?.[table]?.Keys ?? []) as Item[];
    }
  }
  return items;
}

const BATCH_GET = 100;

/** Full-jitter backoff before asking again for what a batch request left unprocessed: up to 25 ms × 2^round, capped at 2 s. */
export function backoffMs(round: number): number {
  return Math.random() * Math.min(2_000, 25 * 2 ** round);
}
