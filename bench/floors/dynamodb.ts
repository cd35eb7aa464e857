import { DynamoDBClient } from "@aws-sdk/client-dynamodb";

/**
 * Cold-start floor of a register-only function: the DynamoDB client, imported and constructed as
 * `functions/lib/register.ts` does, and nothing else. `bench/bundles.ts` bundles it like a handler.
 */
export const client = new DynamoDBClient({});
