import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDynamoRegister } from "../../shared/register/dynamodb.ts";
import type { AlertLedger } from "../../shared/register/types.ts";
import { dynamoClient, freshTable } from "../support/dynamodb.ts";

const client = dynamoClient(inject("dynamodbEndpoint"));
let ledger: AlertLedger;
beforeAll(async () => {
  ledger = createDynamoRegister({ client, tableName: await freshTable(client, "alerts") }).alerts;
});
afterAll(() => client.destroy());

describe("the alert ledger", () => {
  it("records an alert once, even when two runs claim it at the same time", async () => {
    const claims = await Promise.all(
      Array.from({ length: 10 }, () => ledger.claim("licence:1", "expiry", "2021-06-01:7", "2021-05-25")),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await ledger.claim("licence:1", "expiry", "2021-06-01:7", "2021-05-26")).toBe(false);
    expect(await ledger.claim("licence:1", "expiry", "2021-06-01:3", "2021-05-29")).toBe(true);
  });

  it("forgets a released alert, so a later run may send it", async () => {
    expect(await ledger.claim("licence:2", "renewal_failed", "x", "2021-06-07")).toBe(true);
    await ledger.release("licence:2", "renewal_failed", "x");
    expect(await ledger.claim("licence:2", "renewal_failed", "x", "2021-06-07")).toBe(true);
  });

  it("tells which of many are recorded, in batches of 100", async () => {
    const entries = Array.from({ length: 250 }, (_, i) => ({
      subject: `licence:${1000 + i}`,
      kind: "expiry",
      threshold: "2021-12-31:7",
    }));
    for (const e of entries.filter((_, i) => i % 3 === 0))
      await ledger.claim(e.subject, e.kind, e.threshold, "2021-12-24");
    const recorded = await ledger.recorded([...entries, ...entries.slice(0, 5)]);
    expect(recorded.size).toBe(84);
    expect(recorded.has("licence:1000|expiry|2021-12-31:7")).toBe(true);
    expect(recorded.has("licence:1001|expiry|2021-12-31:7")).toBe(false);
    expect(await ledger.recorded([])).toEqual(new Set());
  });
});
