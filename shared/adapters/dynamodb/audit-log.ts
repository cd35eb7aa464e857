import { randomBytes } from "node:crypto";
import { type DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { AuditEntry, AuditLog } from "../../domain/ports/audit-log.ts";
import { queryAll } from "./queries.ts";
import { PARTITION_KEY, SORT_KEY } from "./table.ts";

type Item = Record<string, unknown>;

/** One partition per licence, its entries in time order; calls that name no licence share `AUDIT#none`. */
export const auditPartition = (licenceId: string | undefined) => `AUDIT#${licenceId ?? "none"}`;

/** Every vendor call of the desk, on the register's table: written once, read newest first. */
export function auditLog(doc: DynamoDBDocumentClient, table: string): AuditLog {
  return {
    async record(entry) {
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: {
            ...fromAudit(entry),
            [PARTITION_KEY]: auditPartition(entry.licenceId),
            // The random suffix keeps two entries of the same millisecond apart.
            [SORT_KEY]: `${entry.at}#${randomBytes(8).toString("hex")}`,
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    },

    async forLicence(licenceId, limit) {
      if (!Number.isInteger(limit) || limit < 1)
        throw new RangeError(`limit must be a positive integer, got ${limit}`);
      const items = await queryAll(
        doc,
        {
          TableName: table,
          KeyConditionExpression: "pk = :p",
          ExpressionAttributeValues: { ":p": auditPartition(licenceId) },
          ScanIndexForward: false,
        },
        limit,
      );
      return items.map(toAudit);
    },
  };
}

function fromAudit(entry: AuditEntry): Item {
  return {
    at: entry.at,
    client: entry.client,
    operation: entry.operation,
    licenceId: entry.licenceId,
    params: entry.params,
    outcome: entry.outcome,
    error: entry.error,
    durationMs: entry.durationMs,
  };
}

function toAudit(item: Item): AuditEntry {
  return {
    at: item.at as string,
    client: item.client as string,
    operation: item.operation as string,
    licenceId: item.licenceId as string | undefined,
    params: (item.params ?? {}) as AuditEntry["params"],
    outcome: item.outcome as AuditEntry["outcome"],
    error: item.error as string | undefined,
    durationMs: item.durationMs as number,
  };
}
