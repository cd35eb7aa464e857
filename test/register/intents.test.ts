import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDynamoRegister, idempotencyKey } from "../../shared/adapters/dynamodb/register.ts";
import type { MoneyAnswer, NewIntent } from "../../shared/domain/ports/intent-store.ts";
import type { Register } from "../../shared/domain/ports/register.ts";
import { dynamoClient, freshTable } from "../support/dynamodb.ts";
import { licenceRecord } from "../support/fixtures.ts";

/** An applied answer: the licence as the call left it. */
const applied = (id: string): MoneyAnswer => ({ outcome: "applied", licence: licenceRecord({ id }) });

/** The money intents' store on DynamoDB Local: every write is conditional, so racing callers never both win. */
let register: Register;
let table: string;
const client = dynamoClient(inject("dynamodbEndpoint"));
beforeAll(async () => {
  table = await freshTable(client, "intents");
  register = createDynamoRegister({ client, tableName: table });
});
afterAll(() => client.destroy());

const NOW = Date.parse("2021-05-20T10:00:00Z");
const intentOf = (key: string, overrides: Partial<NewIntent> = {}): NewIntent => ({
  scope: "billing-panel",
  key,
  requestHash: "a".repeat(64),
  operation: "renew",
  request: { operation: "renew", id: "7", body: { period: 1 } },
  lockedUntil: NOW + 30_000,
  expiresAt: NOW / 1000 + 86_400,
  ...overrides,
});

describe("claims", () => {
  it("lets exactly one of 20 concurrent claims take a key", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => register.idempotency.claim(intentOf("race"), NOW)),
    );
    expect(results.filter((r) => r.claimed)).toHaveLength(1);
    for (const r of results) if (!r.claimed) expect(r.existing.status).toBe("in_progress");
  });

  it("keeps the request, so a reconciler can rebuild it", async () => {
    await register.idempotency.claim(intentOf("request"), NOW);
    expect(await register.idempotency.find("billing-panel", "request")).toMatchObject({
      operation: "renew",
      request: { operation: "renew", id: "7", body: { period: 1 } },
      sentAt: undefined,
      facts: {},
    });
  });

  it("lets a claim that never sent expire, but never one that was sent", async () => {
    const unsent = intentOf("unsent", { expiresAt: NOW / 1000 - 1 });
    expect(await register.idempotency.claim(unsent, NOW - 60_000)).toEqual({ claimed: true });
    expect(await register.idempotency.claim(intentOf("unsent", { requestHash: "b" }), NOW)).toEqual({
      claimed: true,
    });

    const sent = intentOf("sent", { expiresAt: NOW / 1000 - 1 });
    await register.idempotency.claim(sent, NOW - 60_000);
    await register.idempotency.markSent(
      sent.scope,
      sent.key,
      { expiryBefore: "2021-06-01" },
      NOW - 59_000,
      sent.lockedUntil,
    );
    const later = await register.idempotency.claim(
      intentOf("sent", { requestHash: "b" }),
      NOW + 365 * 86_400_000,
    );
    expect(later.claimed).toBe(false);
    expect(later.claimed ? undefined : later.existing).toMatchObject({
      sentAt: NOW - 59_000,
      expiresAt: undefined,
      context: { expiryBefore: "2021-06-01" },
    });
  });

  it("keeps scopes apart, and takes any key up to 255 characters", async () => {
    const key = `${"#日".repeat(120)}% x/`.padEnd(255, "k");
    for (const scope of ["a", "a#b", "a%23b", "a#"]) {
      expect(await register.idempotency.claim(intentOf(key, { scope }), NOW), scope).toEqual({
        claimed: true,
      });
    }
    expect(await register.idempotency.claim(intentOf("b#c", { scope: "a" }), NOW)).toEqual({ claimed: true });
    expect(await register.idempotency.claim(intentOf("c", { scope: "a#b" }), NOW)).toEqual({ claimed: true });
  });
});

describe("from sent to completed", () => {
  it("lists a sent intent as unresolved until it is completed; completion is kept once, first one wins", async () => {
    const it1 = intentOf("lifecycle");
    await register.idempotency.claim(it1, NOW);
    expect((await register.idempotency.unresolved(1000)).map((r) => r.key)).not.toContain("lifecycle");
    await register.idempotency.markSent(it1.scope, it1.key, { a: "1" }, NOW, it1.lockedUntil);
    await expect(
      register.idempotency.markSent(it1.scope, it1.key, { a: "2" }, NOW, it1.lockedUntil),
    ).rejects.toThrow();
    await register.idempotency.markUnknown(it1.scope, it1.key);
    const unresolved = await register.idempotency.unresolved(1000);
    expect(unresolved.find((r) => r.key === "lifecycle")).toMatchObject({
      status: "unknown",
      lockedUntil: 0,
    });

    await register.idempotency.markApplied(it1.scope, it1.key, { newExpiry: "2021-07-01" });
    const [first, second] = await Promise.all([
      register.idempotency.complete(it1.scope, it1.key, applied("1"), NOW / 1000 + 60),
      register.idempotency.complete(
        it1.scope,
        it1.key,
        { outcome: "not_applied", refusal: { code: "renewal_not_applied", message: "no", details: {} } },
        NOW / 1000 + 60,
      ),
    ]);
    expect(first.response).toEqual(second.response);
    expect(first).toMatchObject({ status: "completed", facts: { newExpiry: "2021-07-01" } });
    expect(first.expiresAt).toBe(NOW / 1000 + 60);
    expect((await register.idempotency.unresolved(1000)).map((r) => r.key)).not.toContain("lifecycle");
    // An unknown mark arriving late never reopens a completed intent.
    await register.idempotency.markUnknown(it1.scope, it1.key);
    expect((await register.idempotency.find(it1.scope, it1.key))?.status).toBe("completed");
  });

  it("claims a new key in one write, and completes with one write that returns the record", async () => {
    const sent: string[] = [];
    const counted = dynamoClient(inject("dynamodbEndpoint"));
    counted.middlewareStack.add(
      (next, context) => (args) => {
        sent.push(context.commandName ?? "?");
        return next(args);
      },
      { step: "initialize", name: "countRequests" },
    );
    const table = await freshTable(counted, "intents-trips");
    const store = createDynamoRegister({ client: counted, tableName: table }).idempotency;
    try {
      const it1 = intentOf("trips");
      sent.length = 0;
      expect(await store.claim(it1, NOW)).toEqual({ claimed: true });
      expect(sent).toEqual(["PutItemCommand"]);

      await store.markSent(it1.scope, it1.key, { a: "1" }, NOW, it1.lockedUntil);
      await store.markApplied(it1.scope, it1.key, { newExpiry: "2021-07-01" });
      sent.length = 0;
      const done = await store.complete(it1.scope, it1.key, applied("1"), NOW / 1000 + 60);
      expect(sent).toEqual(["UpdateItemCommand"]);
      expect(done).toEqual(await store.find(it1.scope, it1.key));
      expect(done).toMatchObject({ status: "completed", response: applied("1") });

      // A repeat: the claim's write is refused, one read tells what holds the key.
      sent.length = 0;
      const again = await store.claim(intentOf("trips"), NOW);
      expect(again.claimed ? undefined : again.existing.status).toBe("completed");
      expect(sent).toEqual(["PutItemCommand", "GetItemCommand"]);
    } finally {
      counted.destroy();
    }
  });

  it("keeps an answer as it was: the licence, or the refusal with its details", async () => {
    const answers: MoneyAnswer[] = [
      { outcome: "applied", licence: licenceRecord({ name: "Zoë & Jürgen 😀", key: "" }) },
      {
        outcome: "not_applied",
        refusal: { code: "order_not_placed", message: "no", details: { deep: { a: [1] }, none: null } },
      },
    ];
    for (const [n, answer] of answers.entries()) {
      const i = intentOf(`odd-${n}`);
      await register.idempotency.claim(i, NOW);
      const kept = await register.idempotency.complete(i.scope, i.key, answer, 1e10);
      expect(kept.response).toStrictEqual(answer);
    }
  });

  it("reads an answer kept before the desk spoke in outcomes ({statusCode, body}) as the outcome it was", async () => {
    for (const [outcome, body, answer] of [
      ["applied", licenceRecord(), { outcome: "applied", licence: licenceRecord() }],
      [
        "not_applied",
        { error: { code: "renewal_not_applied", message: "no", details: { outcome: "not_applied" } } },
        {
          outcome: "not_applied",
          refusal: { code: "renewal_not_applied", message: "no", details: { outcome: "not_applied" } },
        },
      ],
    ] as const) {
      const i = intentOf(`kept-before-${outcome}`);
      await register.idempotency.claim(i, NOW);
      await DynamoDBDocumentClient.from(client).send(
        new UpdateCommand({
          TableName: table,
          Key: idempotencyKey(i.scope, i.key),
          UpdateExpression: "SET #s = :c, #r = :r, #o = :o",
          ExpressionAttributeNames: { "#s": "status", "#r": "response", "#o": "outcome" },
          ExpressionAttributeValues: {
            ":c": "completed",
            ":r": JSON.stringify({ statusCode: outcome === "applied" ? 201 : 409, body }),
            ":o": outcome,
          },
        }),
      );
      expect((await register.idempotency.find(i.scope, i.key))?.response).toStrictEqual(answer);
    }
  });

  it("lets exactly one caller take over a dead unsent claim, and exactly one lease a sent one", async () => {
    const dead = intentOf("dead", { lockedUntil: NOW - 1 });
    await register.idempotency.claim(dead, NOW - 60_000);
    const takes = await Promise.all(
      Array.from({ length: 5 }, () => register.idempotency.takeOver(dead.scope, dead.key, NOW, NOW + 30_000)),
    );
    expect(takes.filter(Boolean)).toHaveLength(1);

    // The dead holder, past its lock, may no longer send; the one that took over may.
    await expect(
      register.idempotency.markSent(dead.scope, dead.key, {}, NOW, dead.lockedUntil),
    ).rejects.toThrow("no longer ours to send");
    await register.idempotency.markSent(dead.scope, dead.key, {}, NOW, NOW + 30_000);
    // Sent: never taken over again, whatever the clock says.
    expect(await register.idempotency.takeOver(dead.scope, dead.key, NOW + 1e9, NOW + 2e9)).toBe(false);
    const leases = await Promise.all(
      Array.from({ length: 5 }, () =>
        register.idempotency.lease(dead.scope, dead.key, NOW + 60_000, NOW + 90_000),
      ),
    );
    expect(leases.filter(Boolean)).toHaveLength(1);
  });

  it("ends a lease only for its holder, after which another may lease at once", async () => {
    const sent = intentOf("undecided", { lockedUntil: NOW - 1 });
    await register.idempotency.claim(sent, NOW - 60_000);
    await register.idempotency.markSent(sent.scope, sent.key, {}, NOW - 60_000, sent.lockedUntil);
    expect(await register.idempotency.lease(sent.scope, sent.key, NOW, NOW + 30_000)).toBe(true);
    expect(await register.idempotency.lease(sent.scope, sent.key, NOW + 1, NOW + 30_001)).toBe(false);
    // Not this lease: nothing changes.
    expect(await register.idempotency.endLease(sent.scope, sent.key, NOW + 29_999)).toBe(false);
    expect(await register.idempotency.lease(sent.scope, sent.key, NOW + 2, NOW + 30_002)).toBe(false);
    expect(await register.idempotency.endLease(sent.scope, sent.key, NOW + 30_000)).toBe(true);
    expect(await register.idempotency.lease(sent.scope, sent.key, NOW + 3, NOW + 30_003)).toBe(true);
    // Completed: no lease to end.
    await register.idempotency.complete(sent.scope, sent.key, applied("1"), NOW / 1000 + 60);
    expect(await register.idempotency.endLease(sent.scope, sent.key, NOW + 30_003)).toBe(false);
  });
});

describe("holds", () => {
  it("holds a licence for one renewal at a time, and frees it only for its holder", async () => {
    const a = { scope: "panel", key: "a" };
    const b = { scope: "watcher", key: "b" };
    expect(await register.idempotency.holdLicence("42", a)).toEqual({ held: true });
    expect(await register.idempotency.holdLicence("42", a)).toEqual({ held: true });
    expect(await register.idempotency.holdLicence("42", b)).toEqual({ held: false, owner: a });
    await register.idempotency.freeLicence("42", b);
    expect(await register.idempotency.holdLicence("42", b)).toEqual({ held: false, owner: a });
    await register.idempotency.freeLicence("42", a);
    expect(await register.idempotency.holdLicence("42", b)).toEqual({ held: true });
  });

  it("gives a new licence id to one intent only", async () => {
    const claims = await Promise.all(
      ["x", "y", "z"].map((key) => register.idempotency.claimLicenceId("9001", { scope: "panel", key })),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    const owner = ["x", "y", "z"][claims.indexOf(true)] as string;
    expect(await register.idempotency.claimLicenceId("9001", { scope: "panel", key: owner })).toBe(true);
  });
});
