import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import { config } from "./config.ts";

/** One DynamoDB client per container; locally pointed at DynamoDB Local or dynalite. */
export const register = createDynamoRegister({
  client: new DynamoDBClient(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}),
  tableName: config.TABLE_NAME,
});
