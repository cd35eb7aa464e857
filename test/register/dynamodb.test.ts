import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDynamoRegister, IdempotencyRecordNotFoundError } from "../../shared/register/dynamodb.ts";
import { ensureTable, TTL_ATTRIBUTE } from "../../shared/register/table.ts";
import {
  type AuditEntry,
  type IdempotencyRecord,
  InvalidCursorError,
  type LicenceRecord,
  type Register,
} from "../../shared/register/types.ts";
import { type Dynalite, dynamoClient, freshTable, startDynalite } from "../support/dynamodb.ts";

interface Engine {
  engine: string;
  start: () => Promise<Dynalite>;
}

const engines: Engine[] = [
  {
    engine: "DynamoDB Local",
    start: async () => ({ endpoint: inject("dynamodbEndpoint"), close: async () => {} }),
  },
  { engine: "dynalite", start: startDynalite },
];

const licence = (id: string, overrides: Partial<LicenceRecord> = {}): LicenceRecord => ({
  id,
  name: `web-${id}`,
  ip: "82.156.37.16",
  product: "ispmanager5-lite",
  pricelist: "3541",
  period: 1,
  status: "active",
  statusCode: "2",
  expiresOn: "2021-06-16",
  createdOn: "2021-05-16",
  key: "AAAA-BBBB-CCCC",
  autoRenew: 1,
  syncedAt: "2021-05-20T02:00:00.000Z",
  updatedAt: "2021-05-20T02:00:01.000Z",
  ...overrides,
});

/** A record as `get` gives it back: absent optional fields are absent properties. */
const clean = (record: LicenceRecord) =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
const ids = (records: LicenceRecord[]) => records.map((r) => r.id);
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe.each(engines)("register on $engine", ({ engine, start }) => {
  let server: Dynalite;
  let client: DynamoDBClient;
  /** A register on a table of its own, for tests that list everything in the table. */
  const newRegister = async (): Promise<Register> =>
    createDynamoRegister({ client, tableName: await freshTable(client) });
  let register: Register;

  beforeAll(async () => {
    server = await start();
    client = dynamoClient(server.endpoint);
    register = await newRegister();
  });
  afterAll(async () => {
    client?.destroy();
    await server?.close();
  });

  it("creates the table once, even when two callers race, with both indexes and TTL where supported", async () => {
    const name = `race-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    await Promise.all([ensureTable(client, name), ensureTable(client, name)]);
    await ensureTable(client, name);
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    expect(Table?.TableStatus).toBe("ACTIVE");
    expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort()).toEqual([
      "byExpiry",
      "byStatus",
    ]);
    const { TimeToLiveDescription: ttl } = await client.send(
      new DescribeTimeToLiveCommand({ TableName: name }),
    );
    // dynalite has no UpdateTimeToLive: its tables keep TTL off (expired idempotency records are never
    // deleted there, which `claim` tolerates: it treats them as absent).
    if (engine === "dynalite") expect(ttl?.TimeToLiveStatus).toBe("DISABLED");
    else expect(ttl).toEqual({ TimeToLiveStatus: "ENABLED", AttributeName: TTL_ATTRIBUTE });
  });

  describe("licences", () => {
    it("puts, gets and replaces the whole record", async () => {
      const first = licence("1001", { nodes: 3, autoRenew: 12 });
      await register.licences.put(first);
      expect(await register.licences.get("1001")).toStrictEqual(first);
      expect(await register.licences.get("1002")).toBeUndefined();

      const sparse = licence("1001", {
        product: undefined,
        period: undefined,
        nodes: undefined,
        expiresOn: undefined,
        createdOn: undefined,
        key: undefined,
        autoRenew: null,
        syncedAt: undefined,
        status: "suspended",
        statusCode: "3",
      });
      await register.licences.put(sparse);
      // Attributes the new record lacks are gone, not left over from the old one.
      expect(await register.licences.get("1001")).toStrictEqual(clean(sparse));
      expect(await register.licences.get("1001")).not.toHaveProperty("key");
    });

    it("lists by expiry, then id, licences without expiry last", async () => {
      const reg = await newRegister();
      const records = [
        licence("30", { expiresOn: "2021-07-01" }),
        licence("21", { expiresOn: undefined }),
        licence("12", { expiresOn: "2021-06-14" }),
        licence("11", { expiresOn: "2021-06-14" }),
        licence("40", { expiresOn: "2021-06-15" }),
        licence("5", { expiresOn: "2020-12-31" }),
      ];
      for (const record of records) await reg.licences.put(record);
      const page = await reg.licences.list({ limit: 100 });
      expect(ids(page.items)).toEqual(["5", "11", "12", "40", "30", "21"]);
      expect(page.items[0]).toStrictEqual(records[5]);
      expect(page.items.at(-1)).toStrictEqual(clean(records[1] as LicenceRecord));
      expect(page.cursor).toBeUndefined();

      // A replaced expiry moves the licence in the index: no stale entry remains.
      await reg.licences.put(licence("5", { expiresOn: "2022-01-01" }));
      expect(ids((await reg.licences.list({ limit: 100 })).items)).toEqual([
        "11",
        "12",
        "40",
        "30",
        "5",
        "21",
      ]);
    });

    it("lists by status, and strictly before a date", async () => {
      const reg = await newRegister();
      await reg.licences.put(licence("1", { status: "active", expiresOn: "2021-06-20" }));
      await reg.licences.put(licence("2", { status: "suspended", expiresOn: "2021-06-10" }));
      await reg.licences.put(licence("3", { status: "active", expiresOn: "2021-06-14" }));
      await reg.licences.put(licence("4", { status: "active", expiresOn: "2021-06-15" }));
      await reg.licences.put(licence("5", { status: "active", expiresOn: undefined }));
      await reg.licences.put(licence("6", { status: "deleted", expiresOn: "2021-01-01" }));

      expect(ids((await reg.licences.list({ status: "active", limit: 10 })).items)).toEqual([
        "3",
        "4",
        "1",
        "5",
      ]);
      expect(ids((await reg.licences.list({ status: "suspended", limit: 10 })).items)).toEqual(["2"]);
      expect((await reg.licences.list({ status: "processing", limit: 10 })).items).toEqual([]);

      expect(ids((await reg.licences.list({ expiresBefore: "2021-06-15", limit: 10 })).items)).toEqual([
        "6",
        "2",
        "3",
      ]);
      expect(
        ids((await reg.licences.list({ status: "active", expiresBefore: "2021-06-15", limit: 10 })).items),
      ).toEqual(["3"]);

      // A status change moves the licence to the other status.
      await reg.licences.put(licence("1", { status: "suspended", expiresOn: "2021-06-20" }));
      expect(ids((await reg.licences.list({ status: "active", limit: 10 })).items)).toEqual(["3", "4", "5"]);
      expect(ids((await reg.licences.list({ status: "suspended", limit: 10 })).items)).toEqual(["2", "1"]);
    });

    it("pages through 25 licences with limit 10, each exactly once, in order", async () => {
      const reg = await newRegister();
      const all = Array.from({ length: 25 }, (_, i) =>
        licence(String(100 + i), {
          // Several licences per day, and some without an expiry.
          expiresOn: i >= 22 ? undefined : `2021-07-${String(10 + (i % 7)).padStart(2, "0")}`,
          status: i % 2 === 0 ? "active" : "suspended",
        }),
      );
      await Promise.all(all.map((record) => reg.licences.put(record)));
      const expected = ids(
        [...all].sort((a, b) =>
          `${a.expiresOn ?? "9999-12-31"}#${a.id}` < `${b.expiresOn ?? "9999-12-31"}#${b.id}` ? -1 : 1,
        ),
      );

      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | undefined;
      do {
        const page = await reg.licences.list({ limit: 10, cursor });
        seen.push(...ids(page.items));
        sizes.push(page.items.length);
        cursor = page.cursor;
      } while (cursor !== undefined);
      expect(sizes).toEqual([10, 10, 5]);
      expect(seen).toEqual(expected);

      // Exactly two full pages: the second says there is no more (no empty third page).
      const twenty = await newRegister();
      await Promise.all(all.slice(0, 20).map((record) => twenty.licences.put(record)));
      const p1 = await twenty.licences.list({ limit: 10 });
      const p2 = await twenty.licences.list({ limit: 10, cursor: p1.cursor });
      expect([p1.items.length, p2.items.length, p2.cursor]).toEqual([10, 10, undefined]);

      // Paging with a status and a date bound.
      const query = { status: "active", expiresBefore: "2021-07-14" } as const;
      const bounded: string[] = [];
      cursor = undefined;
      do {
        const page = await reg.licences.list({ ...query, limit: 2, cursor });
        expect(page.items.length).toBeGreaterThan(0);
        bounded.push(...ids(page.items));
        cursor = page.cursor;
      } while (cursor !== undefined);
      expect(bounded).toEqual(
        expected.filter((id) => {
          const r = all.find((x) => x.id === id) as LicenceRecord;
          return r.status === "active" && r.expiresOn !== undefined && r.expiresOn < "2021-07-14";
        }),
      );
    });

    it("refuses a cursor it did not produce", async () => {
      const reg = await newRegister();
      for (const id of ["1", "2", "3"]) await reg.licences.put(licence(id));
      const { cursor } = await reg.licences.list({ limit: 1 });
      expect(cursor).toBeDefined();
      const good = JSON.parse(Buffer.from(cursor as string, "base64url").toString()) as Record<
        string,
        string
      >;

      const bad = [
        "",
        "not a cursor!",
        Buffer.from("not json").toString("base64url"),
        cursorOf([1, 2]),
        cursorOf(null),
        cursorOf("LIC#1"),
        cursorOf({ pk: "LIC#1", sk: "LICENCE" }),
        cursorOf({ ...good, extra: "x" }),
        cursorOf({ ...good, pk: "AUDIT#1" }),
        cursorOf({ ...good, gsi1pk: "OTHER" }),
        cursorOf({ ...good, gsi1sk: 5 }),
        cursorOf({ ...good, gsi1sk: "2021-06-16#999" }),
      ];
      for (const value of bad)
        await expect(reg.licences.list({ limit: 1, cursor: value }), value).rejects.toBeInstanceOf(
          InvalidCursorError,
        );
      // A cursor of one index does not fit the other, nor one past the date bound.
      await expect(reg.licences.list({ status: "active", limit: 1, cursor })).rejects.toBeInstanceOf(
        InvalidCursorError,
      );
      await expect(
        reg.licences.list({ expiresBefore: "2021-06-16", limit: 1, cursor }),
      ).rejects.toBeInstanceOf(InvalidCursorError);
      await expect(reg.licences.list({ limit: 0 })).rejects.toBeInstanceOf(RangeError);
      // The good one works.
      expect(ids((await reg.licences.list({ limit: 5, cursor })).items)).toEqual(["2", "3"]);
    });
  });

  describe("audit", () => {
    const entry = (overrides: Partial<AuditEntry> = {}): AuditEntry => ({
      at: "2021-05-20T10:00:00.000Z",
      client: "billing-panel",
      operation: "renew",
      licenceId: "2001",
      params: { period: 1, name: "", autoprolong: null, force: true },
      outcome: "ok",
      error: undefined,
      durationMs: 123,
      ...overrides,
    });

    it("returns a licence's entries newest first", async () => {
      const at = ["2021-05-20T10:00:02.000Z", "2021-05-20T10:00:00.000Z", "2021-05-21T00:00:00.000Z"];
      for (const [i, when] of at.entries()) await register.audit.record(entry({ at: when, durationMs: i }));
      await register.audit.record(entry({ licenceId: "2002" }));
      await register.audit.record(entry({ licenceId: undefined, outcome: "refused", error: "bad_ip" }));

      const got = await register.audit.forLicence("2001", 10);
      expect(got.map((e) => e.at)).toEqual([at[2], at[0], at[1]]);
      expect(got[1]).toStrictEqual(entry({ at: at[0], durationMs: 0 }));
      expect((await register.audit.forLicence("2001", 2)).map((e) => e.at)).toEqual([at[2], at[0]]);
      expect(await register.audit.forLicence("2003", 10)).toEqual([]);
      expect(await register.audit.forLicence("none", 10)).toStrictEqual([
        entry({ licenceId: undefined, outcome: "refused", error: "bad_ip" }),
      ]);
    });

    it("keeps 50 entries written at once in the same millisecond", async () => {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          register.audit.record(entry({ licenceId: "2050", durationMs: i })),
        ),
      );
      const got = await register.audit.forLicence("2050", 100);
      expect(got).toHaveLength(50);
      expect(new Set(got.map((e) => e.durationMs)).size).toBe(50);
    });
  });

  describe("idempotency", () => {
    const NOW = Date.parse("2021-05-20T10:00:00Z");
    const claimOf = (
      key: string,
      overrides: Partial<Omit<IdempotencyRecord, "status" | "response">> = {},
    ): Omit<IdempotencyRecord, "status" | "response"> => ({
      scope: "billing-panel",
      key,
      requestHash: "a".repeat(64),
      context: { expiresOn: "2021-06-16", note: "" },
      lockedUntil: NOW + 30_000,
      expiresAt: NOW / 1000 + 86_400,
      ...overrides,
    });

    it("lets exactly one of 20 concurrent claims take a key", async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          register.idempotency.claim(claimOf("concurrent", { lockedUntil: NOW + i }), NOW),
        ),
      );
      const winners = results.filter((r) => r.claimed);
      expect(winners).toHaveLength(1);
      const winner = results.findIndex((r) => r.claimed);
      for (const result of results) {
        if (result.claimed) continue;
        expect(result.existing).toStrictEqual({
          ...claimOf("concurrent", { lockedUntil: NOW + winner }),
          status: "in_progress",
          response: undefined,
        });
      }
    });

    it("saves context, completes, marks unknown, and releases", async () => {
      const claimed = claimOf("lifecycle");
      expect(await register.idempotency.claim(claimed, NOW)).toEqual({ claimed: true });
      // The context is replaced as a whole.
      const record = {
        ...claimed,
        context: { expiresBefore: "2021-06-16", licenceId: "2512171", empty: "" },
      };
      await register.idempotency.saveContext(record.scope, record.key, record.context);
      expect(await register.idempotency.claim(claimed, NOW)).toStrictEqual({
        claimed: false,
        existing: { ...record, status: "in_progress", response: undefined },
      });

      await register.idempotency.markUnknown(record.scope, record.key);
      const unknown = await register.idempotency.claim(claimOf("lifecycle", { requestHash: "b" }), NOW);
      expect(unknown).toStrictEqual({
        claimed: false,
        existing: { ...record, status: "unknown", response: undefined },
      });

      // Arbitrary JSON, including what DynamoDB would otherwise trip on.
      const body = {
        id: "2512171",
        empty: "",
        zero: 0,
        big: Number.MAX_SAFE_INTEGER,
        float: 0.1,
        none: null,
        list: [],
        nested: { map: {}, set: ["a", "a"], text: "ü 日本 \u0000" },
      };
      await register.idempotency.complete(record.scope, record.key, { statusCode: 201, body });
      const done = await register.idempotency.claim(record, NOW);
      expect(done).toStrictEqual({
        claimed: false,
        existing: { ...record, status: "completed", response: { statusCode: 201, body } },
      });
      for (const odd of ["", 0, null, [], "text"]) {
        await register.idempotency.complete(record.scope, record.key, { statusCode: 200, body: odd });
        const again = await register.idempotency.claim(record, NOW);
        expect(again.claimed ? undefined : again.existing.response).toStrictEqual({
          statusCode: 200,
          body: odd,
        });
      }

      await register.idempotency.release(record.scope, record.key);
      expect(await register.idempotency.claim(record, NOW)).toEqual({ claimed: true });
      await register.idempotency.release(record.scope, record.key);
      // Releasing what is not there is fine; completing it is not.
      await register.idempotency.release(record.scope, record.key);
      await expect(
        register.idempotency.complete(record.scope, record.key, { statusCode: 200, body: {} }),
      ).rejects.toBeInstanceOf(IdempotencyRecordNotFoundError);
      await expect(register.idempotency.markUnknown(record.scope, record.key)).rejects.toBeInstanceOf(
        IdempotencyRecordNotFoundError,
      );
      await expect(register.idempotency.saveContext(record.scope, record.key, {})).rejects.toBeInstanceOf(
        IdempotencyRecordNotFoundError,
      );
    });

    it("lets an expired record be claimed again", async () => {
      const old = claimOf("expired", { expiresAt: NOW / 1000 - 1 });
      expect(await register.idempotency.claim(old, NOW - 60_000)).toEqual({ claimed: true });
      await register.idempotency.complete(old.scope, old.key, { statusCode: 200, body: { old: true } });

      // Still live at its own expiry second, gone one second later.
      const atExpiry = await register.idempotency.claim(
        claimOf("expired", { requestHash: "new" }),
        NOW - 1000,
      );
      expect(atExpiry.claimed).toBe(false);
      const fresh = claimOf("expired", { requestHash: "new" });
      expect(await register.idempotency.claim(fresh, NOW)).toEqual({ claimed: true });
      expect(await register.idempotency.claim(fresh, NOW)).toStrictEqual({
        claimed: false,
        existing: { ...fresh, status: "in_progress", response: undefined },
      });
    });

    it("keeps scopes apart, and takes any key up to 255 characters", async () => {
      const key = `${"#日".repeat(120)}% x/`.padEnd(255, "k");
      expect(key).toHaveLength(255);
      for (const scope of ["a", "a#b", "a%23b", "a#"]) {
        expect(await register.idempotency.claim(claimOf(key, { scope }), NOW), scope).toEqual({
          claimed: true,
        });
      }
      // `a` + `b#c` and `a#b` + `c` are different keys.
      expect(await register.idempotency.claim(claimOf("b#c", { scope: "a" }), NOW)).toEqual({
        claimed: true,
      });
      expect(await register.idempotency.claim(claimOf("c", { scope: "a#b" }), NOW)).toEqual({
        claimed: true,
      });
      const again = await register.idempotency.claim(claimOf(key, { scope: "a#b" }), NOW);
      expect(again.claimed ? undefined : again.existing.scope).toBe("a#b");
      expect(again.claimed ? undefined : again.existing.key).toBe(key);
    });
  });
});
