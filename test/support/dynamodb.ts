import { randomBytes } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ensureTable } from "../../shared/adapters/dynamodb/table.ts";

/** An SDK client for a local engine: any region, dummy credentials. */
export function dynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: "local",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
}

/** Creates a uniquely named register table (so test files never share one) and returns its name. */
export async function freshTable(client: DynamoDBClient, prefix = "register"): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
  await ensureTable(client, name);
  return name;
}

export { type Dynalite, startDynalite } from "../../local/dynalite.ts";
