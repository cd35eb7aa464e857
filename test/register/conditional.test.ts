import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { conditional, conditionalWrite } from "../../shared/adapters/dynamodb/conditional.ts";
import { dynamoFaultProxy } from "../support/dynamo-faults.ts";
import { dynamoClient, freshTable } from "../support/dynamodb.ts";

/** The register's one conditional write: a lost condition is an answer, every other failure is thrown. */
describe("conditional writes", () => {
  let client: DynamoDBClient;
  let doc: DynamoDBDocumentClient;
  let table: string;
  let proxy: Awaited<ReturnType<typeof dynamoFaultProxy>>;
  let throughProxy: DynamoDBDocumentClient;

  beforeAll(async () => {
    client = dynamoClient(inject("dynamodbEndpoint"));
    doc = DynamoDBDocumentClient.from(client);
    table = await freshTable(client, "conditional");
    proxy = await dynamoFaultProxy(inject("dynamodbEndpoint"));
    throughProxy = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: proxy.url,
        region: "local",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
        maxAttempts: 1,
      }),
    );
  });
  afterAll(async () => {
    await proxy.close();
    client.destroy();
  });

  const create = (pk: string, value: string) =>
    new PutCommand({
      TableName: table,
      Item: { pk, sk: "X", value },
      ConditionExpression: "attribute_not_exists(pk)",
    });

  it("says whether the condition held, and writes only when it did", async () => {
    expect(await conditional(doc, create("A", "first"))).toBe(true);
    expect(await conditional(doc, create("A", "second"))).toBe(false);
    const bump = new UpdateCommand({
      TableName: table,
      Key: { pk: "A", sk: "X" },
      UpdateExpression: "SET #v = :next",
      ConditionExpression: "#v = :was",
      ExpressionAttributeNames: { "#v": "value" },
      ExpressionAttributeValues: { ":was": "first", ":next": "third" },
      ReturnValues: "ALL_NEW",
    });
    expect((await conditionalWrite(doc, bump))?.Attributes).toEqual({ pk: "A", sk: "X", value: "third" });
    // The same write again: `value` is no longer "first".
    expect(await conditionalWrite(doc, bump)).toBeUndefined();
  });

  it("throws every failure that is not a lost condition", async () => {
    // An expression naming a value it was not given: DynamoDB refuses the request itself.
    const malformed = new PutCommand({
      TableName: table,
      Item: { pk: "B", sk: "X" },
      ConditionExpression: "attribute_not_exists(pk) OR #v = :missing",
      ExpressionAttributeNames: { "#v": "value" },
    });
    await expect(conditional(doc, malformed)).rejects.toMatchObject({ name: "ValidationException" });

    proxy.fail({ operation: "PutItem", contains: ['"C"'], count: 1 });
    await expect(conditional(throughProxy, create("C", "throttled"))).rejects.toMatchObject({
      name: "ProvisionedThroughputExceededException",
    });
    expect(await conditional(throughProxy, create("C", "after"))).toBe(true);
  });
});
