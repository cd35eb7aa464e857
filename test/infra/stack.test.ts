import { describe, expect, it } from "vitest";
import { registerTable } from "../../shared/adapters/dynamodb/table.ts";
import { resourcesOfType, shippedDesk } from "./support.ts";

/** The stack's own resources (infra/stack.ts): the register table. */
const { template, json } = shippedDesk();

describe("the register table", () => {
  it("is on-demand, with PITR, TTL on expiresAt, deletion protection, retained, keys from registerTable", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", 1);
    template.hasResource("AWS::DynamoDB::Table", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: {
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: registerTable.ttlAttribute, Enabled: true },
        DeletionProtectionEnabled: true,
        KeySchema: [
          { AttributeName: "pk", KeyType: "HASH" },
          { AttributeName: "sk", KeyType: "RANGE" },
        ],
      },
    });
  });

  it("has the two indexes of registerTable, projecting every attribute", () => {
    const [, table] = resourcesOfType(json, "AWS::DynamoDB::Table")[0] ?? [];
    const indexes = table?.Properties?.GlobalSecondaryIndexes as any[];
    expect(indexes.map((i) => i.IndexName).sort()).toEqual(["byExpiry", "byStatus"]);
    for (const index of registerTable.indexes) {
      expect(indexes).toContainEqual({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: "HASH" },
          { AttributeName: index.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      });
    }
  });
});
