import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";

type Item = Record<string, unknown>;

/** A conditional write that lost: another writer got there first (or the item is not as required). */
export function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

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
