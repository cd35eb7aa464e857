import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import { ensureTable, TTL_ATTRIBUTE } from "../../shared/adapters/dynamodb/table.ts";
import type { AuditEntry } from "../../shared/domain/ports/audit-log.ts";
import {
  InvalidCursorError,
  type LicenceRecord,
  StaleRecordError,
} from "../../shared/domain/ports/licence-store.ts";
import type { Register } from "../../shared/domain/ports/register.ts";
import { type Dynalite, dynamoClient, freshTable, startDynalite } from "../support/dynamodb.ts";
import { licenceRecord } from "../support/fixtures.ts";

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

const licence = (id: string, overrides: Partial<LicenceRecord> = {}): LicenceRecord =>
  licenceRecord({ id, autoRenew: 1, ...overrides });

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
      expect(await register.licences.get("1001")).toStrictEqual({ ...first, version: 1 });
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
      expect(await register.licences.get("1001")).toStrictEqual({ ...clean(sparse), version: 1 });
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
      expect(page.items[0]).toStrictEqual({ ...records[5], version: 1 });
      expect(page.items.at(-1)).toStrictEqual({ ...clean(records[1] as LicenceRecord), version: 1 });
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

  describe("licence updates", () => {
    /** The item as stored, index keys included. */
    const raw = async (reg: Register, id: string) => {
      const page = await reg.licences.list({ limit: 100 });
      return page.items.find((r) => r.id === id);
    };

    it("sets only the fields given, removes those given as undefined, and bumps the version", async () => {
      const reg = await newRegister();
      await reg.licences.put(licence("2001", { nodes: 2, autoRenew: 12 }));
      const after = await reg.licences.update("2001", {
        name: "renamed",
        key: undefined,
        nodes: undefined,
        updatedAt: "2021-05-21T02:00:00.000Z",
      });
      const expected = {
        ...clean(licence("2001", { autoRenew: 12, key: undefined })),
        name: "renamed",
        updatedAt: "2021-05-21T02:00:00.000Z",
        version: 2,
      };
      expect(after).toStrictEqual(expected);
      expect(await reg.licences.get("2001")).toStrictEqual(expected);
      // Nothing given: still a write, still a new version.
      expect((await reg.licences.update("2001", {}))?.version).toBe(3);
    });

    it("keeps a field another writer set meanwhile (the sync never undoes a PATCH autoRenew)", async () => {
      const reg = await newRegister();
      await reg.licences.put(licence("2002", { autoRenew: 1 }));
      const snapshot = (await reg.licences.get("2002")) as LicenceRecord;
      // The API switches autoRenew off after the sync read the record...
      await reg.licences.update("2002", { autoRenew: null });
      // ...then the sync writes the vendor's new expiry, from its older read, field by field.
      await reg.licences.update("2002", { expiresOn: "2021-07-16" });
      expect(await reg.licences.get("2002")).toMatchObject({ autoRenew: null, expiresOn: "2021-07-16" });
      expect(snapshot.autoRenew).toBe(1);
    });

    it("with ifVersion, writes only at that version; StaleRecordError otherwise, nothing written", async () => {
      const reg = await newRegister();
      await reg.licences.put(licence("2003"));
      const read = (await reg.licences.get("2003")) as LicenceRecord;
      expect(read.version).toBe(1);
      expect(await reg.licences.update("2003", { autoRenew: null }, { ifVersion: 1 })).toMatchObject({
        autoRenew: null,
        version: 2,
      });
      await expect(reg.licences.update("2003", { name: "late" }, { ifVersion: 1 })).rejects.toBeInstanceOf(
        StaleRecordError,
      );
      expect(await reg.licences.get("2003")).toMatchObject({ name: "web-2003", version: 2 });
      // Of 10 writers holding version 2, exactly one wins.
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          reg.licences.update("2003", { name: `w${i}` }, { ifVersion: 2 }),
        ),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      expect(
        results.filter((r) => r.status === "rejected" && r.reason instanceof StaleRecordError),
      ).toHaveLength(9);
      expect((await reg.licences.get("2003"))?.version).toBe(3);
    });

    it("counts a record written before versions as version 0", async () => {
      const table = await freshTable(client);
      const reg = createDynamoRegister({ client, tableName: table });
      // An item as `put` wrote it before records had versions.
      const { version: _, ...old } = licence("2004");
      await DynamoDBDocumentClient.from(client).send(
        new PutCommand({
          TableName: table,
          Item: {
            ...clean(old as LicenceRecord),
            pk: "LIC#2004",
            sk: "LICENCE",
            gsi1pk: "LICENCE",
            gsi1sk: "2021-06-16#2004",
            gsi2pk: "STATUS#active",
          },
        }),
      );
      expect(await reg.licences.get("2004")).not.toHaveProperty("version");
      await expect(reg.licences.update("2004", { name: "x" }, { ifVersion: 1 })).rejects.toBeInstanceOf(
        StaleRecordError,
      );
      expect(await reg.licences.update("2004", { name: "x" }, { ifVersion: 0 })).toMatchObject({
        name: "x",
        version: 1,
      });
    });

    it("is undefined for a licence that does not exist, with or without ifVersion, and creates nothing", async () => {
      const reg = await newRegister();
      expect(await reg.licences.update("nope", { name: "x" })).toBeUndefined();
      expect(await reg.licences.update("nope", { name: "x" }, { ifVersion: 0 })).toBeUndefined();
      expect(await reg.licences.get("nope")).toBeUndefined();
    });

    it("keeps the indexes in step: a new expiry moves it in the expiry order, a new status to its status", async () => {
      const reg = await newRegister();
      await reg.licences.put(licence("a", { expiresOn: "2021-06-01" }));
      await reg.licences.put(licence("b", { expiresOn: "2021-07-01" }));
      await reg.licences.update("a", { expiresOn: "2021-08-01" });
      expect(ids((await reg.licences.list({ limit: 10 })).items)).toEqual(["b", "a"]);
      expect(ids((await reg.licences.list({ expiresBefore: "2021-07-15", limit: 10 })).items)).toEqual(["b"]);
      await reg.licences.update("b", { status: "suspended", statusCode: "3" });
      expect(ids((await reg.licences.list({ status: "suspended", limit: 10 })).items)).toEqual(["b"]);
      expect(ids((await reg.licences.list({ status: "active", limit: 10 })).items)).toEqual(["a"]);
      // No expiry: last.
      await reg.licences.update("a", { expiresOn: undefined });
      expect(ids((await reg.licences.list({ limit: 10 })).items)).toEqual(["b", "a"]);
      expect(await raw(reg, "a")).not.toHaveProperty("expiresOn");
      expect(ids((await reg.licences.list({ expiresBefore: "2022-01-01", limit: 10 })).items)).toEqual(["b"]);
    });

    it("lists a window of expiries (from, to), paging through it", async () => {
      const reg = await newRegister();
      const days = ["2021-05-01", "2021-05-17", "2021-05-17", "2021-05-30", "2021-06-16", "2021-06-17"];
      for (const [i, day] of days.entries()) await reg.licences.put(licence(`w${i}`, { expiresOn: day }));
      await reg.licences.put(licence("none", { expiresOn: undefined }));
      const window = { expiresFrom: "2021-05-17", expiresBefore: "2021-06-17" };
      const first = await reg.licences.list({ ...window, limit: 2 });
      expect(ids(first.items)).toEqual(["w1", "w2"]);
      const rest = await reg.licences.list({ ...window, limit: 5, cursor: first.cursor });
      expect(ids(rest.items)).toEqual(["w3", "w4"]);
      expect(rest.cursor).toBeUndefined();
      // A cursor from before the window does not fit it.
      const all = await reg.licences.list({ limit: 1 });
      await expect(reg.licences.list({ ...window, limit: 1, cursor: all.cursor })).rejects.toBeInstanceOf(
        InvalidCursorError,
      );
      expect(ids((await reg.licences.list({ expiresFrom: "2021-06-17", limit: 5 })).items)).toEqual(["w5"]);
    });

    it("maps suspendedBy and version both ways; update refuses to remove a required field or set the id", async () => {
      const reg = await newRegister();
      await reg.licences.put(licence("s1", { suspendedBy: "desk", version: 4 }));
      expect(await reg.licences.get("s1")).toMatchObject({ suspendedBy: "desk", version: 5 });
      expect(await reg.licences.update("s1", { suspendedBy: undefined })).not.toHaveProperty("suspendedBy");
      await expect(reg.licences.update("s1", { name: undefined })).rejects.toBeInstanceOf(TypeError);
      await expect(
        reg.licences.update("s1", { id: "other" } as unknown as Partial<LicenceRecord>),
      ).rejects.toBeInstanceOf(TypeError);
    });

    it("creates a record only if there is none", async () => {
      const reg = await newRegister();
      expect(await reg.licences.create(licence("c1", { autoRenew: 12 }))).toBe(true);
      expect(await reg.licences.create(licence("c1", { autoRenew: null, name: "other" }))).toBe(false);
      expect(await reg.licences.get("c1")).toMatchObject({ autoRenew: 12, name: "web-c1", version: 1 });
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
});
