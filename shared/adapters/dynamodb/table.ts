import {
  type AttributeDefinition,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";

/**
 * The register's one DynamoDB table, as data: what `createTableInput` builds, what the local server and
 * tests create, and what the CDK app will declare. Every key attribute is a string.
 */
export const PARTITION_KEY = "pk";
export const SORT_KEY = "sk";
/** The table's TTL attribute (epoch seconds). Only idempotency records carry it. */
export const TTL_ATTRIBUTE = "expiresAt";

/** Every licence, ordered by expiry then id: `gsi1pk` = `LICENCE`, `gsi1sk` = `<expiresOn or 9999-12-31>#<id>`. */
export const BY_EXPIRY_INDEX = "byExpiry";
/** Licences of one status, ordered by expiry then id: `gsi2pk` = `STATUS#<status>`, sort `gsi1sk`. */
export const BY_STATUS_INDEX = "byStatus";

export interface IndexDefinition {
  name: string;
  partitionKey: string;
  sortKey: string;
}

export const registerTable = {
  partitionKey: PARTITION_KEY,
  sortKey: SORT_KEY,
  ttlAttribute: TTL_ATTRIBUTE,
  /** Both project ALL attributes. */
  indexes: [
    { name: BY_EXPIRY_INDEX, partitionKey: "gsi1pk", sortKey: "gsi1sk" },
    { name: BY_STATUS_INDEX, partitionKey: "gsi2pk", sortKey: "gsi1sk" },
  ] as const satisfies readonly IndexDefinition[],
} as const;

export function createTableInput(tableName: string): CreateTableCommandInput {
  const keyNames = new Set<string>([PARTITION_KEY, SORT_KEY]);
  for (const index of registerTable.indexes) {
    keyNames.add(index.partitionKey);
    keyNames.add(index.sortKey);
  }
  const attributes: AttributeDefinition[] = [...keyNames].map((name) => ({
    AttributeName: name,
    AttributeType: "S",
  }));
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: attributes,
    KeySchema: [
      { AttributeName: PARTITION_KEY, KeyType: "HASH" },
      { AttributeName: SORT_KEY, KeyType: "RANGE" },
    ],
    GlobalSecondaryIndexes: registerTable.indexes.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: "HASH" },
        { AttributeName: index.sortKey, KeyType: "RANGE" },
      ],
      Projection: { ProjectionType: "ALL" },
    })),
  };
}

export interface EnsureTableOptions {
  /** How long to wait for the table (and its indexes) to become ACTIVE. Default 60 s. */
  timeoutMs?: number;
}

/**
 * Creates the table if it does not exist, waits until it and its indexes are ACTIVE, and enables TTL on
 * `expiresAt`. Idempotent; safe when two callers race to create the same table. Works on DynamoDB Local
 * and on dynalite (which has no UpdateTimeToLive: that one failure is ignored).
 */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  options: EnsureTableOptions = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  if ((await tableStatus(client, tableName)) === undefined) {
    try {
      await client.send(new CreateTableCommand(createTableInput(tableName)));
    } catch (error) {
      // Someone else created it between our look and our create: wait for theirs.
      if (errorName(error) !== "ResourceInUseException") throw error;
    }
  }
  let delayMs = 20;
  for (;;) {
    const status = await tableStatus(client, tableName);
    if (status === "ACTIVE") break;
    if (Date.now() > deadline)
      throw new Error(`table ${tableName} not ACTIVE in time (last status ${status ?? "missing"})`);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, 500);
  }
  await enableTtl(client, tableName);
}

/** The table's status, counting it ACTIVE only when every index is ACTIVE too; undefined if missing. */
async function tableStatus(client: DynamoDBClient, tableName: string): Promise<string | undefined> {
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const status = Table?.TableStatus;
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every(
      (index) => index.IndexStatus === undefined || index.IndexStatus === "ACTIVE",
    );
    return status === "ACTIVE" && !indexesActive ? "INDEXES_CREATING" : status;
  } catch (error) {
    if (errorName(error) === "ResourceNotFoundException") return undefined;
    throw error;
  }
}

async function enableTtl(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    if (await ttlOn(client, tableName)) return;
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      }),
    );
  } catch (error) {
    if (isUnsupportedOperation(error)) return;
    // A concurrent caller enabled it first ("TimeToLive is already enabled"): that is what we wanted.
    if (errorName(error) === "ValidationException" && (await ttlOn(client, tableName))) return;
    throw error;
  }
}

async function ttlOn(client: DynamoDBClient, tableName: string): Promise<boolean> {
  const { TimeToLiveDescription: ttl } = await client.send(
    new DescribeTimeToLiveCommand({ TableName: tableName }),
  );
  return ttl?.TimeToLiveStatus === "ENABLED" || ttl?.TimeToLiveStatus === "ENABLING";
}

/** dynalite answers operations it does not implement with `UnknownOperationException`. */
function isUnsupportedOperation(error: unknown): boolean {
  return errorName(error) === "UnknownOperationException";
}

/** By name, not `instanceof`: robust to two copies of the SDK in one process. */
function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}
