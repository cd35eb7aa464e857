import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import type { AlertKey, PendingAlert } from "../../shared/domain/ports/alert-ledger.ts";
import type { Register } from "../../shared/domain/ports/register.ts";
import { type Dynalite, dynamoClient, freshTable, startDynalite } from "../support/dynamodb.ts";

/**
 * The alert ledger and the night ledger, on both engines the product runs on (DynamoDB Local for the
 * tests, dynalite for `npm start`, which has no transactions: neither ledger needs one).
 */
const engines = [
  {
    engine: "DynamoDB Local",
    start: async (): Promise<Dynalite> => ({ endpoint: inject("dynamodbEndpoint"), close: async () => {} }),
  },
  { engine: "dynalite", start: startDynalite },
];

const alert = (subject: string, threshold: string, night = "2021-05-25", kind = "expiry"): PendingAlert => ({
  subject,
  kind,
  threshold,
  night,
  payload: JSON.stringify({ title: `${subject} ${kind} ${threshold}` }),
});
const text = (k: AlertKey) => `${k.subject}|${k.kind}|${k.threshold}`;

describe.each(engines)("ledgers on $engine", ({ start }) => {
  let server: Dynalite;
  let client: DynamoDBClient;
  const fresh = async (): Promise<Register> =>
    createDynamoRegister({ client, tableName: await freshTable(client, "ledger") });

  beforeAll(async () => {
    server = await start();
    client = dynamoClient(server.endpoint);
  });
  afterAll(async () => {
    client?.destroy();
    await server?.close();
  });

  describe("the alert ledger", () => {
    it("records an alert once, pending, even when ten runs record it at the same time", async () => {
      const { alerts: ledger } = await fresh();
      const a = alert("licence:1", "2021-06-01:7");
      const results = await Promise.all(Array.from({ length: 10 }, () => ledger.record([a])));
      expect(results.flat()).toHaveLength(1);
      expect(await ledger.pending()).toEqual([a]);
      expect(await ledger.recorded([a])).toEqual(new Set([text(a)]));
      expect(await ledger.sent([a])).toEqual(new Set());
      // Recorded on a later night: still the same alert.
      expect(await ledger.record([{ ...a, night: "2021-05-26" }])).toEqual([]);
    });

    it("lists pending alerts oldest night first, across nights", async () => {
      const { alerts: ledger } = await fresh();
      const late = alert("licence:2", "x", "2021-05-27");
      const early = alert("licence:3", "y", "2021-05-20");
      await ledger.record([late, early, late]);
      expect(await ledger.pending()).toEqual([early, late]);
    });

    it("leases a pending alert to one run at a time, until the lease runs out or is given back", async () => {
      const { alerts: ledger } = await fresh();
      const a = alert("licence:4", "2021-06-01:3");
      await ledger.record([a]);
      const now = 1_000_000;
      const leases = await Promise.all(Array.from({ length: 8 }, () => ledger.lease(a, now, now + 30_000)));
      expect(leases.filter(Boolean)).toHaveLength(1);
      expect(await ledger.lease(a, now + 29_999, now + 60_000)).toBe(false);
      // The holder died: once its lease has run out, another run takes it.
      expect(await ledger.lease(a, now + 30_001, now + 60_000)).toBe(true);
      // The first holder, back late from a failed send, cannot give back a lease it no longer holds.
      await ledger.unlease(a, now + 30_000);
      expect(await ledger.lease(a, now + 30_002, now + 90_000)).toBe(false);
      // Its holder's failed send gives it back at once.
      await ledger.unlease(a, now + 60_000);
      expect(await ledger.lease(a, now + 30_002, now + 90_000)).toBe(true);
      // Not pending: nothing to lease.
      expect(await ledger.lease(alert("licence:none", "z"), now, now + 1)).toBe(false);
    });

    it("marks alerts sent: no longer pending, never recorded again", async () => {
      const { alerts: ledger } = await fresh();
      const many = Array.from({ length: 60 }, (_, i) => alert(`licence:${100 + i}`, "2021-06-01:7"));
      expect(await ledger.record(many)).toHaveLength(60);
      await ledger.markSent(many.slice(0, 40), "2021-05-25T02:00:01.000Z");
      expect((await ledger.pending()).map(text).sort()).toEqual(many.slice(40).map(text).sort());
      expect((await ledger.sent(many)).size).toBe(40);
      expect((await ledger.recorded(many)).size).toBe(60);
      expect(await ledger.record(many)).toEqual([]);
      // Leasing a sent one: not pending any more.
      expect(await ledger.lease(many[0] as PendingAlert, 1, 2)).toBe(false);
    });

    it("tells which of many are recorded, in batches of 100, and names each alert of a night", async () => {
      const reg = await fresh();
      const entries = Array.from({ length: 250 }, (_, i) => alert(`licence:${1000 + i}`, "2021-12-31:7"));
      await reg.alerts.record(entries.filter((_, i) => i % 3 === 0));
      const recorded = await reg.alerts.recorded([...entries, ...entries.slice(0, 5)]);
      expect(recorded.size).toBe(84);
      expect(recorded.has("licence:1000|expiry|2021-12-31:7")).toBe(true);
      expect(recorded.has("licence:1001|expiry|2021-12-31:7")).toBe(false);
      expect(await reg.alerts.recorded([])).toEqual(new Set());
      const night = await reg.nights.read("2021-05-25");
      expect(night.alerts.map(text).sort()).toEqual(
        entries
          .filter((_, i) => i % 3 === 0)
          .map(text)
          .sort(),
      );
    });
  });

  describe("the night ledger", () => {
    const NIGHT = "2021-05-17";
    const renewal = (
      licenceId: string,
      overrides: Partial<Parameters<Register["nights"]["settle"]>[1]> = {},
    ) => ({
      licenceId,
      name: `web-${licenceId}`,
      outcome: "started" as const,
      from: "2021-05-20",
      to: undefined,
      period: 12,
      reason: "due",
      detail: undefined,
      run: "run-a",
      leaseUntil: 2_000_000,
      at: "2021-05-17T02:00:01.000Z",
      ...overrides,
    });

    it("lets one run take a licence's renewal for the night; another takes it only once the lease has run out", async () => {
      const { nights } = await fresh();
      const takes = await Promise.all(
        ["a", "b", "c", "d"].map((run) => nights.begin(NIGHT, renewal("1", { run }), 1_000_000)),
      );
      expect(takes.filter((t) => t.began)).toHaveLength(1);
      const refused = takes.find((t) => !t.began);
      expect(refused?.began === false && refused.current.outcome).toBe("started");
      // Still leased at 1,999,999; free at 2,000,001 (its run died).
      expect((await nights.begin(NIGHT, renewal("1", { run: "e" }), 1_999_999)).began).toBe(false);
      expect(
        (await nights.begin(NIGHT, renewal("1", { run: "e", leaseUntil: 3_000_000 }), 2_000_001)).began,
      ).toBe(true);
    });

    it("never takes or overwrites an applied renewal; any other outcome may be tried again", async () => {
      const { nights } = await fresh();
      await nights.begin(NIGHT, renewal("2"), 0);
      const applied = renewal("2", {
        outcome: "applied",
        to: "2021-12-31",
        run: undefined,
        leaseUntil: undefined,
      });
      expect(await nights.settle(NIGHT, applied)).toEqual(applied);
      const refused = renewal("2", {
        outcome: "refused",
        detail: "late",
        run: undefined,
        leaseUntil: undefined,
      });
      expect(await nights.settle(NIGHT, refused)).toEqual(applied);
      const again = await nights.begin(NIGHT, renewal("2", { run: "b" }), 9_999_999);
      expect(again).toEqual({ began: false, current: applied });

      await nights.begin(NIGHT, renewal("3"), 0);
      await nights.settle(NIGHT, renewal("3", { outcome: "refused", detail: "Insufficient funds" }));
      expect((await nights.begin(NIGHT, renewal("3", { run: "b" }), 0)).began).toBe(true);
    });

    it("reads a night back: its renewals (leases dropped once settled), its alerts, its sync counts (each only ever grows)", async () => {
      const { nights } = await fresh();
      await nights.begin(NIGHT, renewal("4"), 0);
      await nights.settle(NIGHT, renewal("4", { outcome: "pending", detail: "awaiting" }));
      await nights.begin(NIGHT, renewal("5"), 0);
      await nights.noteSync(NIGHT, { listed: 7, added: 1, updated: 2, gone: 0 });
      // A concurrent run that counted from an earlier view never lowers a count.
      await nights.noteSync(NIGHT, { listed: 8, added: 0, updated: 1, gone: 1 });
      await nights.noteSync("2021-05-18", { listed: 9, added: 9, updated: 0, gone: 0 });
      const read = await nights.read(NIGHT);
      expect(read.sync).toEqual({ listed: 8, added: 1, updated: 2, gone: 1 });
      expect(read.renewals.map((r) => [r.licenceId, r.outcome, r.run, r.leaseUntil])).toEqual([
        ["4", "pending", undefined, undefined],
        ["5", "started", "run-a", 2_000_000],
      ]);
      expect(await nights.read("2021-05-19")).toEqual({
        renewals: [],
        alerts: [],
        sync: { listed: 0, added: 0, updated: 0, gone: 0 },
      });
    });
  });
});
