import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import type { LicenceRecord } from "../../shared/domain/ports/licence-store.ts";
import type { Register } from "../../shared/domain/ports/register.ts";
import { type Dynalite, dynamoClient, freshTable, startDynalite } from "../support/dynamodb.ts";
import { licenceRecord } from "../support/fixtures.ts";

/**
 * `licences.createMany`, the sync's batched creation of licences new to the register: BatchWriteItem has
 * no condition, so these check that it still never writes over a licence someone else created, on both
 * engines. A hook on the client's requests plays the other writer at the exact moment a batch is sent.
 */
const engines = [
  {
    engine: "DynamoDB Local",
    start: async (): Promise<Dynalite> => ({ endpoint: inject("dynamodbEndpoint"), close: async () => {} }),
  },
  { engine: "dynalite", start: startDynalite },
];

const NOW = Date.parse("2021-05-20T10:00:00Z");

const licence = (id: string, overrides: Partial<LicenceRecord> = {}): LicenceRecord =>
  licenceRecord({ id, ...overrides });
const many = (count: number, from = 1000) =>
  Array.from({ length: count }, (_, i) => licence(String(from + i)));

/** What the hook may do around a request: before it is sent, and after its answer. */
type Around = {
  before?: (op: string, input: Record<string, unknown>) => Promise<void>;
  after?: (op: string, output: Record<string, unknown>, input: Record<string, unknown>) => Promise<void>;
};

describe.each(engines)("new licences in batches on $engine", ({ start }) => {
  let server: Dynalite;
  let client: DynamoDBClient;
  /** The client the batches go through, with `around` seeing each request. */
  let hooked: DynamoDBClient;
  const sent: string[] = [];
  let around: Around = {};

  beforeAll(async () => {
    server = await start();
    client = dynamoClient(server.endpoint);
    hooked = dynamoClient(server.endpoint);
    hooked.middlewareStack.add(
      (next, context) => async (args) => {
        const op = context.commandName ?? "?";
        sent.push(op);
        const input = args.input as Record<string, unknown>;
        await around.before?.(op, input);
        const result = await next(args);
        await around.after?.(op, result.output as unknown as Record<string, unknown>, input);
        return result;
      },
      { step: "initialize", name: "around" },
    );
  });
  afterAll(async () => {
    client.destroy();
    hooked.destroy();
    await server.close();
  });

  /** The register as the sync sees it (hooked), and as the API sees it at the same table. */
  async function registers(): Promise<{ sync: Register; api: Register }> {
    const tableName = await freshTable(client, "new-licences");
    around = {};
    sent.length = 0;
    return {
      sync: createDynamoRegister({ client: hooked, tableName }),
      api: createDynamoRegister({ client, tableName }),
    };
  }

  /** What an order through the API writes: its intent (with the canonical request), its claim of the id, its record. */
  async function order(api: Register, record: LicenceRecord, claimOnly = false): Promise<void> {
    const ref = { scope: "billing-panel", key: `order-${record.id}` };
    await api.idempotency.claim(
      {
        ...ref,
        requestHash: "a".repeat(64),
        operation: "order",
        request: {
          operation: "order",
          body: { ip: record.ip, name: record.name, autoRenew: record.autoRenew },
        },
        lockedUntil: NOW + 30_000,
        expiresAt: NOW / 1000 + 86_400,
      },
      NOW,
    );
    expect(await api.idempotency.claimLicenceId(record.id, ref)).toBe(true);
    if (!claimOnly) await api.licences.put(record);
  }

  it("creates 60 licences in three batch writes, each at version 1", async () => {
    const { sync } = await registers();
    const records = many(60);
    const result = await sync.licences.createMany(records);
    expect(result.existing).toEqual([]);
    expect(result.created.map((r) => r.id)).toEqual(records.map((r) => r.id));
    expect(sent.filter((op) => op === "BatchWriteItemCommand")).toHaveLength(3);
    expect(sent).not.toContain("PutItemCommand");
    for (const record of records) {
      expect(await sync.licences.get(record.id)).toEqual({ ...record, version: 1 });
    }
  });

  it("leaves alone a licence that exists and names it; one an order claimed gets the order's autoRenew", async () => {
    const { sync, api } = await registers();
    const [mine, ordered, claimed] = many(3) as [LicenceRecord, LicenceRecord, LicenceRecord];
    const theirs = { ...ordered, name: "ordered-through-api", autoRenew: 12 as const };
    await order(api, theirs);
    await order(api, { ...claimed, autoRenew: 1 }, true);
    const result = await sync.licences.createMany([mine, ordered, claimed]);
    expect(result.created.map((r) => r.id)).toEqual([mine.id, claimed.id]);
    expect(result.existing).toEqual([ordered.id]);
    expect(await api.licences.get(theirs.id)).toEqual({ ...theirs, version: 1 });
    // Its record is on the way: the order finds ours and keeps its own view (storeOrdered); until then
    // ours already carries the autoRenew it asked for.
    expect(await api.licences.get(claimed.id)).toEqual({ ...claimed, autoRenew: 1, version: 2 });
    expect(result.created[1]).toEqual({ ...claimed, autoRenew: 1, version: 2 });
  });

  it("keeps no more batch writes in flight than asked (REGISTER_CONCURRENCY below a group's four)", async () => {
    const { sync } = await registers();
    let inFlight = 0;
    let most = 0;
    around = {
      before: async (op) => {
        if (op !== "BatchWriteItemCommand") return;
        most = Math.max(most, ++inFlight);
      },
      after: async (op) => {
        if (op === "BatchWriteItemCommand") inFlight--;
      },
    };
    expect((await sync.licences.createMany(many(100), 1)).created).toHaveLength(100);
    expect(most).toBe(1);
    expect((await sync.licences.createMany(many(100, 2000))).created).toHaveLength(100);
    expect(most).toBe(4);
  });

  it("reads each licence once before writing it and the claims once after, however many it writes", async () => {
    const { sync } = await registers();
    const records = many(250);
    const reads: number[] = [];
    around = {
      before: async (op, input) => {
        if (op === "BatchGetItemCommand")
          reads.push(
            Object.values(input.RequestItems as Record<string, { Keys: unknown[] }>)[0]?.Keys.length ?? 0,
          );
      },
    };
    const result = await sync.licences.createMany(records);
    expect(result.created).toHaveLength(250);
    // 100 keys a read (BatchGetItem's limit), each licence's key once; the claims in one query.
    expect(reads).toEqual([100, 100, 50]);
    expect(sent.filter((op) => op === "BatchWriteItemCommand")).toHaveLength(10);
    expect(sent.filter((op) => op === "QueryCommand")).toHaveLength(1);
  });

  it("writes again what DynamoDB left unprocessed, first checking that nobody created it meanwhile", async () => {
    const { sync, api } = await registers();
    const records = many(5);
    const [, , , late, left] = records as [
      LicenceRecord,
      LicenceRecord,
      LicenceRecord,
      LicenceRecord,
      LicenceRecord,
    ];
    let batches = 0;
    let unprocessed: Record<string, unknown[]> = {};
    around = {
      // The first batch: DynamoDB takes three and leaves two, and the API creates one of those two
      // before the batch is sent again.
      before: async (op, input) => {
        if (op !== "BatchWriteItemCommand" || batches++ > 0) return;
        const [table, requests] = Object.entries(input.RequestItems as Record<string, unknown[]>)[0] ?? [];
        unprocessed = { [table as string]: (requests as unknown[]).splice(3) };
      },
      after: async (op, output) => {
        if (op !== "BatchWriteItemCommand" || batches > 1) return;
        output.UnprocessedItems = unprocessed;
        await order(api, { ...late, name: "ordered-while-throttled", autoRenew: 12 });
      },
    };
    const result = await sync.licences.createMany(records);
    expect(batches).toBe(2);
    expect(result.created.map((r) => r.id).sort()).toEqual(
      records
        .filter((r) => r !== late)
        .map((r) => r.id)
        .sort(),
    );
    expect(result.existing).toEqual([late.id]);
    expect(await api.licences.get(late.id)).toMatchObject({ name: "ordered-while-throttled", autoRenew: 12 });
    expect(await api.licences.get(left.id)).toEqual({ ...left, version: 1 });
  });

  it("an order that writes its licence between the check and the batch keeps the autoRenew it asked for", async () => {
    const { sync, api } = await registers();
    const records = many(3);
    const raced = records[1] as LicenceRecord;
    around = {
      before: async (op) => {
        if (op === "BatchWriteItemCommand")
          await order(api, { ...raced, name: "ordered-in-the-gap", autoRenew: 12 });
      },
    };
    const result = await sync.licences.createMany(records);
    around = {};
    expect(result.existing).toEqual([]);
    // The batch landed on the order's record (the vendor's form, read a moment apart): the order's
    // autoRenew is written back, and the record the sync keeps says so.
    expect(await api.licences.get(raced.id)).toMatchObject({ autoRenew: 12 });
    expect(result.created.find((r) => r.id === raced.id)).toMatchObject({ autoRenew: 12 });
    for (const other of [records[0], records[2]] as LicenceRecord[])
      expect(await api.licences.get(other.id)).toEqual({ ...other, version: 1 });
  });

  it("an order claimed in the gap whose record comes after the batch: its own record stands", async () => {
    const { sync, api } = await registers();
    const [raced] = many(1) as [LicenceRecord];
    const theirs = { ...raced, name: "ordered-in-the-gap", autoRenew: 1 as const };
    around = {
      before: async (op) => {
        if (op === "BatchWriteItemCommand") await order(api, theirs, true);
      },
    };
    await sync.licences.createMany([raced]);
    around = {};
    await api.licences.put(theirs);
    expect(await api.licences.get(raced.id)).toMatchObject({ name: "ordered-in-the-gap", autoRenew: 1 });
  });

  it("a change made after the batch (autoRenew switched by a reseller) is never undone by the order's", async () => {
    const { sync, api } = await registers();
    const [raced] = many(1) as [LicenceRecord];
    around = {
      before: async (op) => {
        if (op === "BatchWriteItemCommand") await order(api, { ...raced, autoRenew: 12 });
      },
      after: async (op) => {
        if (op === "BatchWriteItemCommand") await api.licences.update(raced.id, { autoRenew: 1 });
      },
    };
    const result = await sync.licences.createMany([raced]);
    around = {};
    expect(await api.licences.get(raced.id)).toMatchObject({ autoRenew: 1, version: 2 });
    expect(result.created).toEqual([expect.objectContaining({ id: raced.id, autoRenew: 1 })]);
  });
});
