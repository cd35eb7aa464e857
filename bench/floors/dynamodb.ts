import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/**
 * Cold-start floor of a register-only function: the DynamoDB client as `createDynamoRegister` builds it
 * (the SDK client, wrapped in the document client), and nothing else. `bench/bundles.ts` bundles it like a
 * handler.
 */
export const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
