import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import { type ApiHarness, apiHarness, OPERATOR_TOKEN, TOKEN } from "../support/api.ts";
import { liteOrder } from "../support/fixtures.ts";

/**
 * Money calls the evidence cannot decide, over real HTTP: the client is told staff were alerted, staff
 * get the alert once, an operator lists the call and settles it from the vendor's panel, and the
 * client's next retry with its key is answered from the settlement. Only clients named in
 * OPERATOR_CLIENTS may list or settle. The settle window is 0 s, so a retry decides at once.
 */
let h: ApiHarness;
const outboxDir = mkdtempSync(join(tmpdir(), "desk-operators-"));
const outbox = join(outboxDir, "outbox.jsonl");
beforeAll(async () => {
  h = await apiHarness({
    now: "2021-05-01",
    env: {
      TEST_ONLY_RECONCILE_AFTER_SECONDS: "0",
      OPERATOR_CLIENTS: "operator, night-shift",
      OUTBOX_FILE: outbox,
    },
  });
});
afterAll(async () => {
  await h.close();
  rmSync(outboxDir, { recursive: true, force: true });
});
beforeEach(() => h.vendor.sandbox.faults.clear());

const register = () =>
  createDynamoRegister({
    client: new DynamoDBClient({ endpoint: inject("dynamodbEndpoint") }),
    tableName: h.table,
  });
const LITE_MONTH = 600;
const charged = async () => (await h.vendor.state()).chargedMinor;
const operator = { token: OPERATOR_TOKEN };
const outcomes = (state?: string, token = OPERATOR_TOKEN) =>
  h.call("GET", `/outcomes${state ? `?state=${state}` : ""}`, { token });
const settle = (key: string, body: unknown, token = OPERATOR_TOKEN) =>
  h.call("POST", `/outcomes/${encodeURIComponent(key)}`, { body, token });
/** The alerts in the local outbox whose text holds `text`. */
const mailsAbout = (text: string): string[] => {
  let lines: string[];
  try {
    lines = readFileSync(outbox, "utf8").trim().split("\n");
  } catch {
    return [];
  }
  return lines.filter((line) => line.includes(text));
};

async function bought(name: string): Promise<{ id: string; ip: string; expiresOn: string }> {
  const answer = await h.call("POST", "/licenses", {
    body: liteOrder({ name }),
    key: crypto.randomUUID(),
  });
  expect(answer.status).toBe(201);
  return answer.body;
}

/**
 * A renewal for 12 months whose answer is lost (the vendor never acted), and meanwhile staff renewed
 * the licence for a month in the vendor's panel: the expiry is neither the one before nor the one the
 * renewal leads to, so no read can tell, and the retry is left to staff.
 */
async function undecidedRenewal(key: string): Promise<{ id: string }> {
  const licence = await bought("undecided-renewal");
  await h.vendor.fault("service.prolong", "drop", 1);
  const lost = await h.call("POST", `/licenses/${licence.id}/renew`, { body: { period: 12 }, key });
  expect(lost).toMatchObject({ status: 504, body: { error: { code: "outcome_unknown" } } });
  await h.vendor.client().prolong(licence.id, 1); // in the vendor's panel: 2021-06-01 -> 2021-07-01
  const retry = await h.call("POST", `/licenses/${licence.id}/renew`, { body: { period: 12 }, key });
  expect(retry).toMatchObject({ status: 409, body: { error: { code: "outcome_pending" } } });
  expect(retry.body.error.message).toContain("staff have been alerted to settle it");
  expect(retry.body.error.message).toContain("2021-07-01, neither 2021-06-01");
  return licence;
}

describe("an undecided renewal", () => {
  // `/` and `%` in the key: percent-encoded in the path, decoded exactly once on the way.
  const key = `renew/${crypto.randomUUID()}%41`;
  let licence: { id: string };
  beforeAll(async () => {
    licence = await undecidedRenewal(key);
  });

  it("is listed for operators with why, and staff get its alert once, naming the call that settles it", async () => {
    const listed = await outcomes();
    expect(listed.status).toBe(200);
    const item = listed.body.items.find((i: { key: string }) => i.key === key);
    expect(item).toMatchObject({
      client: "local",
      key,
      operation: "renew",
      licenceId: licence.id,
      state: "undecided",
      request: { operation: "renew", id: licence.id, body: { period: 12 } },
    });
    expect(item.reason).toMatch(/is 2021-07-01, neither 2021-06-01 \(before the renewal\) nor 2021-12-31/);
    expect(item.undecidedSince).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The default lists only what a person must settle; `unresolved` every open call.
    expect((await outcomes("unresolved")).body.items.map((i: { key: string }) => i.key)).toContain(key);

    // Recorded by the retry at once; the reconciler's pass sends it, and a second pass does not again.
    const alert = { subject: `intent:local:${key}`, kind: "outcome_undecided", threshold: "undecided" };
    expect((await register().alerts.recorded([alert])).size).toBe(1);
    expect(mailsAbout(key)).toEqual([]);
    const { handler } = await import("../../functions/reconciler.ts");
    await handler();
    await handler();
    const mails = mailsAbout(`Settle by hand: renew ${key}`);
    expect(mails).toHaveLength(1);
    expect(mails[0]).toContain(`POST /outcomes/${encodeURIComponent(key)} with {\\"client\\": \\"local\\"`);
    expect(mails[0]).toContain("Expiry the vendor shows now:     2021-07-01");
  });

  it("holds its licence until settled: a renewal with another key is refused, nothing sent", async () => {
    const prolongs = h.vendor.calls("service.prolong");
    const other = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 1 },
      key: crypto.randomUUID(),
    });
    expect(other).toMatchObject({ status: 409, body: { error: { code: "renewal_in_flight" } } });
    expect(h.vendor.calls("service.prolong")).toBe(prolongs);
  });

  it("is not a non-operator's to list or settle: 403 forbidden, and nothing changes", async () => {
    const listed = await outcomes(undefined, TOKEN);
    expect(listed).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect(listed.body.error.message).toBe(
      'client "local" may not list or settle money outcomes: only the clients named in OPERATOR_CLIENTS may',
    );
    const settled = await settle(key, { client: "local", outcome: "not_applied", reason: "I say so" }, TOKEN);
    expect(settled).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    const still = (await outcomes()).body.items.find((i: { key: string }) => i.key === key);
    expect(still?.state).toBe("undecided");
    const retry = await h.call("POST", `/licenses/${licence.id}/renew`, { body: { period: 12 }, key });
    expect(retry.body.error.code).toBe("outcome_pending");
  });

  it("a licence id belongs to orders only: 400 naming it on a renewal, nothing changed", async () => {
    const answer = await settle(key, {
      client: "local",
      outcome: "applied",
      reason: "panel shows it",
      licenceId: licence.id,
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.details.fields).toEqual({
      licenceId: `is only for an order settled as applied; this call is a renewal of licence ${licence.id}`,
    });
    expect((await outcomes()).body.items.find((i: { key: string }) => i.key === key)?.state).toBe(
      "undecided",
    );
  });

  it("settled as not applied: audited under the operator's name, the client's retry told so, the licence free again", async () => {
    const reason = "panel: only staff's 1-month prolong of 2021-05-01 charged, nothing for 12 months";
    const settled = await settle(key, { client: "local", outcome: "not_applied", reason });
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({
      client: "local",
      key,
      operation: "renew",
      outcome: "not_applied",
      answer: { statusCode: 409, body: { error: { code: "renewal_not_applied" } } },
    });

    const retry = await h.call("POST", `/licenses/${licence.id}/renew`, { body: { period: 12 }, key });
    expect(retry).toMatchObject({ status: 409, body: { error: { code: "renewal_not_applied" } } });
    expect(retry.body.error.message).toContain(`settled by operator "operator" as not applied: ${reason}`);
    expect(retry.body.error.message).toContain("renew again with a new Idempotency-Key");
    expect((await outcomes("unresolved")).body.items.map((i: { key: string }) => i.key)).not.toContain(key);

    const entries = await register().audit.forLicence(licence.id, 20);
    expect(entries.find((e) => e.operation === "settle-outcome")).toMatchObject({
      client: "operator",
      licenceId: licence.id,
      params: { client: "local", key, outcome: "not_applied", reason, licenceId: null },
      outcome: "ok",
    });

    // The hold is gone: a renewal with a new key goes through, once.
    const [prolongs, money] = [h.vendor.calls("service.prolong"), await charged()];
    const again = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 1 },
      key: crypto.randomUUID(),
    });
    expect(again).toMatchObject({ status: 200, body: { id: licence.id, expiresOn: "2021-08-01" } });
    expect([h.vendor.calls("service.prolong") - prolongs, (await charged()) - money]).toEqual([
      1,
      LITE_MONTH,
    ]);
  });

  it("settled twice: 409 outcome_settled, nothing changed", async () => {
    const twice = await settle(key, { client: "local", outcome: "applied", reason: "second thoughts" });
    expect(twice).toMatchObject({ status: 409, body: { error: { code: "outcome_settled" } } });
    const retry = await h.call("POST", `/licenses/${licence.id}/renew`, { body: { period: 12 }, key });
    expect(retry.body.error.code).toBe("renewal_not_applied");
  });
});

describe("an undecided order", () => {
  const key = `order-${crypto.randomUUID()}`;
  const body = liteOrder({ name: "op-order" });
  let placed: string;
  beforeAll(async () => {
    await h.vendor.fault("soft.order.param", "act-then-drop", 1);
    const lost = await h.call("POST", "/licenses", { body, key });
    expect(lost).toMatchObject({ status: 504, body: { error: { code: "outcome_unknown" } } });
    // Renamed in the vendor's panel before anyone looked: the one new licence on the IP no longer
    // carries the order's name, so it may be another's.
    placed = (await h.vendor.state()).licences.find((l) => l.ip === body.ip)?.id as string;
    await h.vendor.client().edit(placed, { name: "renamed-in-panel" });
    const retry = await h.call("POST", "/licenses", { body, key });
    expect(retry).toMatchObject({ status: 409, body: { error: { code: "outcome_pending" } } });
    expect(retry.body.error.message).toContain("staff have been alerted to settle it");
  });

  it("an order settled as applied needs the licence it placed, named by field", async () => {
    const bare = await settle(key, { client: "local", outcome: "applied", reason: "charged on 05-01" });
    expect(bare.status).toBe(400);
    expect(bare.body.error.details.fields).toEqual({
      licenceId: "is required to settle an order as applied: the licence it placed",
    });
  });

  it("settled as applied with its licence: the client's retry gets 201 with that licence", async () => {
    const orders = h.vendor.calls("soft.order.param");
    const settled = await settle(key, {
      client: "local",
      outcome: "applied",
      reason: "panel: one order charged 6.00 on 2021-05-01, licence renamed by staff",
      licenceId: placed,
    });
    expect(settled).toMatchObject({
      status: 200,
      body: { client: "local", key, operation: "order", outcome: "applied", answer: { statusCode: 201 } },
    });
    expect(settled.body.answer.body).toMatchObject({ id: placed, ip: body.ip });

    const retry = await h.call("POST", "/licenses", { body, key });
    expect(retry).toMatchObject({ status: 201, body: { id: placed, ip: body.ip } });
    expect(retry.headers["idempotent-replayed"]).toBe("true");
    expect(h.vendor.calls("soft.order.param")).toBe(orders);
    const entries = await register().audit.forLicence(placed, 20);
    expect(entries.find((e) => e.operation === "settle-outcome")).toMatchObject({
      client: "operator",
      params: { client: "local", key, outcome: "applied", licenceId: placed },
    });
    // Staff heard of it as undecided, and hear it was placed: each once.
    const { handler } = await import("../../functions/reconciler.ts");
    await handler();
    expect(mailsAbout(`Settle by hand: order ${key}`)).toHaveLength(1);
    expect(mailsAbout(`Unanswered order settled as placed: licence ${placed}`)).toHaveLength(1);
  });
});

describe("refusals", () => {
  it("an unknown key: 404 naming the call; another client's key is not found either", async () => {
    const missing = await settle("no-such-key", { client: "local", outcome: "applied", reason: "x" });
    expect(missing).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    expect(missing.body.error.message).toBe('money call no-such-key of client "local" not found');
  });

  it.each([
    [{}, ["client", "outcome", "reason"]],
    [{ client: "local", outcome: "maybe", reason: "x" }, ["outcome"]],
    [{ client: "local", outcome: "applied", reason: "   " }, ["reason"]],
    [{ client: "local", outcome: "applied", reason: "x".repeat(501) }, ["reason"]],
    [{ client: "local", outcome: "not_applied", reason: "x", licenceId: "123" }, ["licenceId"]],
    [{ client: "local", outcome: "applied", reason: "x", licenceId: "12a" }, ["licenceId"]],
    [{ client: "", outcome: "applied", reason: "x", extra: 1 }, ["client", "extra"]],
  ])("a bad body (%j): 400 naming %j, nothing changed", async (body, fields) => {
    const answer = await settle("any-key", body);
    expect(answer.status).toBe(400);
    expect(Object.keys(answer.body.error.details.fields).sort()).toEqual([...fields].sort());
  });

  it("a bad state or an unknown parameter: 400 naming it", async () => {
    const answer = await h.call("GET", "/outcomes?state=open&limit=2", operator);
    expect(answer.status).toBe(400);
    expect(answer.body.error.details.fields).toEqual({
      state: "must be undecided or unresolved",
      limit: expect.any(String),
    });
  });

  it("a key that is not one (a space): 400 naming key", async () => {
    const answer = await h.call("POST", "/outcomes/a%20b", {
      body: { client: "local", outcome: "applied", reason: "x" },
      ...operator,
    });
    expect(answer.status).toBe(400);
    expect(Object.keys(answer.body.error.details.fields)).toEqual(["key"]);
  });
});
