import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { type Answer, type ApiHarness, apiHarness } from "../support/api.ts";
import { dynamoFaultProxy } from "../support/dynamo-faults.ts";
import { liteOrder } from "../support/fixtures.ts";

/**
 * The money rules' failure table (docs/api.md, "What happens when something fails"): one test per
 * row, over real HTTP, against a sandbox that misbehaves like a vendor under stress and a DynamoDB
 * that throttles on demand. Each row counts the vendor's money calls and the money it charged, and
 * drives a client that does literally what the answers say: it is charged exactly once in every row.
 * Time passes on the desk's clock (and the vendor's): the client waits as long as Retry-After says, the
 * settle window is the shipped one (RECONCILE_AFTER_SECONDS, 900 s), and nothing sleeps it out.
 */
const SETTLE_SECONDS = 900;
let h: ApiHarness;
let dynamo: Awaited<ReturnType<typeof dynamoFaultProxy>>;
const outboxDir = mkdtempSync(join(tmpdir(), "desk-outbox-"));
const outbox = join(outboxDir, "outbox.jsonl");
beforeAll(async () => {
  dynamo = await dynamoFaultProxy(inject("dynamodbEndpoint"));
  h = await apiHarness({
    now: "2021-05-01",
    env: {
      BILLMGR_TIMEOUT_MS: "500",
      DYNAMODB_ENDPOINT: dynamo.url,
      OUTBOX_FILE: outbox,
    },
  });
});
afterAll(async () => {
  await h.close();
  await dynamo.close();
  rmSync(outboxDir, { recursive: true, force: true });
});
beforeEach(() => {
  h.vendor.sandbox.faults.clear();
  dynamo.clear();
});

const prolongs = () => h.vendor.calls("service.prolong");
const orders = () => h.vendor.calls("soft.order.param");
const charged = async () => ((await h.vendor.state()) as unknown as { chargedMinor: number }).chargedMinor;
const LITE_MONTH = 600;

/** What the answers tell a client to do next, done literally. */
const SAME_KEY_LATER = new Set([
  "outcome_unknown",
  "outcome_pending",
  "request_in_progress",
  "deadline_near",
  "upstream_throttled",
]);
const NEW_KEY = new Set(["order_not_placed", "renewal_not_applied"]);

async function followLiterally(
  send: (key: string) => Promise<Answer>,
): Promise<{ final: Answer; codes: string[] }> {
  let key = crypto.randomUUID();
  const codes: string[] = [];
  for (let step = 0; step < 12; step++) {
    const answer = await send(key);
    const code: string = answer.body?.error?.code ?? String(answer.status);
    codes.push(code);
    if (answer.status === 200 || answer.status === 201) return { final: answer, codes };
    if (SAME_KEY_LATER.has(code)) {
      const seconds = Number(answer.headers["retry-after"]);
      expect(seconds, `Retry-After of ${code}`).toBeGreaterThanOrEqual(1);
      h.advance(seconds * 1000);
    } else if (NEW_KEY.has(code)) {
      key = crypto.randomUUID();
    } else {
      return { final: answer, codes };
    }
  }
  throw new Error(`no final answer after: ${codes.join(", ")}`);
}

async function bought(): Promise<{ id: string; expiresOn: string }> {
  const answer = await h.call("POST", "/licenses", { body: liteOrder(), key: crypto.randomUUID() });
  expect(answer.status).toBe(201);
  return answer.body;
}
const renew = (id: string) => (key: string) =>
  h.call("POST", `/licenses/${id}/renew`, { body: { period: 1 }, key });

describe("renewals: every failure point, and the client that follows the answers is charged once", () => {
  it("during send, throttled at the door (429): 503 upstream_throttled with Retry-After; nothing charged until the retry", async () => {
    const licence = await bought();
    await h.vendor.fault("service.prolong", "throttle", 1, 1000);
    const [calls, money] = [prolongs(), await charged()];
    const { final, codes } = await followLiterally(renew(licence.id));
    expect(codes).toEqual(["upstream_throttled", "200"]);
    expect(final.body.expiresOn).toBe("2021-07-01");
    expect([prolongs() - calls, (await charged()) - money]).toEqual([2, LITE_MONTH]);
  });

  it("after send, the vendor acts late (after we gave up): 504 unknown, then 409 outcome_pending, then the renewal, never a second charge", async () => {
    const licence = await bought();
    await h.vendor.fault("service.prolong", "act-late", 1, 200);
    const [calls, money] = [prolongs(), await charged()];
    const key = crypto.randomUUID();
    const lost = await renew(licence.id)(key);
    expect(lost).toMatchObject({
      status: 504,
      body: { outcome: "unknown", error: { code: "outcome_unknown" } },
    });
    expect(lost.headers["retry-after"]).toBe(String(SETTLE_SECONDS));
    const early = await renew(licence.id)(key);
    expect(early).toMatchObject({ status: 409, body: { error: { code: "outcome_pending" } } });
    // Nearly the whole window is left to wait.
    expect(Number(early.headers["retry-after"])).toBeGreaterThan(SETTLE_SECONDS - 10);
    expect(Number(early.headers["retry-after"])).toBeLessThanOrEqual(SETTLE_SECONDS);
    expect(early.body.error.message).toMatch(/do not use a new key/);
    // Another key meanwhile: the licence has a renewal in flight, so nothing is sent.
    const other = await renew(licence.id)(crypto.randomUUID());
    expect(other).toMatchObject({ status: 409, body: { error: { code: "renewal_in_flight" } } });
    // The vendor acts (200 ms after the desk gave up, on its own timer), well inside the settle window.
    await expect.poll(charged, { interval: 20 }).toBe(money + LITE_MONTH);

    const { final, codes } = await followLiterally(async () => renew(licence.id)(key));
    expect(codes.at(-1)).toBe("200");
    expect(final.body.expiresOn).toBe("2021-07-01");
    expect([prolongs() - calls, (await charged()) - money]).toEqual([1, LITE_MONTH]);
  });

  it("after send, no answer and the vendor never acted: not applied is said only after the settle window; the new key renews once", async () => {
    const licence = await bought();
    await h.vendor.fault("service.prolong", "timeout", 1);
    const money = await charged();
    const { final, codes } = await followLiterally(renew(licence.id));
    expect(codes[0]).toBe("outcome_unknown");
    expect(codes).toContain("renewal_not_applied");
    expect(codes.at(-1)).toBe("200");
    expect(final.body.expiresOn).toBe("2021-07-01");
    expect((await charged()) - money).toBe(LITE_MONTH);
  });

  it("an answer without newexpiredate: 200 with the vendor's new expiry, charged once", async () => {
    const licence = await bought();
    await h.vendor.fault("service.prolong", "no-expiry", 1);
    const money = await charged();
    const { final, codes } = await followLiterally(renew(licence.id));
    expect(codes).toEqual(["200"]);
    expect(final.body.expiresOn).toBe("2021-07-01");
    expect((await charged()) - money).toBe(LITE_MONTH);
  });

  it("an answer without newexpiredate, then the read after it is throttled (429): still applied, the key kept", async () => {
    const licence = await bought();
    // The renewal reads the form once before (must succeed) and once after: only the second is throttled.
    await h.vendor.fault("service.prolong", "no-expiry", 1);
    const key = crypto.randomUUID();
    const before = prolongs();
    const money = await charged();
    const first = h.call("POST", `/licenses/${licence.id}/renew`, { body: { period: 1 }, key });
    // Queue the throttles once the prolong has been received.
    await expect.poll(prolongs, { interval: 5 }).toBe(before + 1);
    await h.vendor.fault("soft.edit", "throttle", 10, 1000);
    const answer = await first;
    expect(answer.status).toBe(200);
    expect(answer.body.expiresOn).toBe("2021-07-01");
    const again = await renew(licence.id)(key);
    expect(again.body).toEqual(answer.body);
    expect([prolongs() - before, (await charged()) - money]).toEqual([1, LITE_MONTH]);
  });

  it("the register and the audit trail throttle after the vendor acted: the client still gets 200, charged once", async () => {
    const licence = await bought();
    const money = await charged();
    const key = crypto.randomUUID();
    // Every attempt (the SDK's and the desk's) of the renewal's audit entry and of the licence's update.
    dynamo.fail({ operation: "PutItem", contains: [`AUDIT#${licence.id}`, '{"S":"renew"}'], count: 100 });
    dynamo.fail({ operation: "UpdateItem", contains: [`LIC#${licence.id}`], count: 100 });
    const answer = await renew(licence.id)(key);
    dynamo.clear();
    expect(dynamo.failed).toBeGreaterThan(0);
    expect(answer.status).toBe(200);
    expect(answer.body.expiresOn).toBe("2021-07-01");
    expect(await renew(licence.id)(key)).toMatchObject({ status: 200, body: answer.body });
    expect((await charged()) - money).toBe(LITE_MONTH);
    // Each failed write costs the SDK's throttling backoff (3 attempts) twice over: seconds, not ms.
  }, 60_000);

  it("too little of the request's time left: 503 deadline_near, nothing sent; the same key renews once", async () => {
    const licence = await bought();
    // A 7.2 s function keeps 4.2 s for the vendor; the read before the renewal takes 0.4 s of it, and a
    // money call is sent only with 4 s left.
    process.env.LOCAL_FUNCTION_TIMEOUT_MS = "7200";
    try {
      await h.vendor.fault("soft.edit", "slow", 1, 400);
      const calls = prolongs();
      const money = await charged();
      const { codes } = await followLiterally(renew(licence.id));
      expect(codes).toEqual(["deadline_near", "200"]);
      expect([prolongs() - calls, (await charged()) - money]).toEqual([1, LITE_MONTH]);
    } finally {
      delete process.env.LOCAL_FUNCTION_TIMEOUT_MS;
    }
  });

  it("an answer that trickles past the call's total limit: 504 unknown (the chunk gaps never time out), then applied", async () => {
    const licence = await bought();
    await h.vendor.fault("service.prolong", "trickle", 1, 150);
    const money = await charged();
    const started = Date.now();
    const key = crypto.randomUUID();
    const lost = await renew(licence.id)(key);
    expect(lost).toMatchObject({ status: 504, body: { outcome: "unknown" } });
    // Bounded by the 500 ms total limit, not by the trickle's seconds (loose: machines are noisy).
    expect(Date.now() - started).toBeLessThan(5000);
    const { final } = await followLiterally(async () => renew(licence.id)(key));
    expect(final.body.expiresOn).toBe("2021-07-01");
    expect((await charged()) - money).toBe(LITE_MONTH);
  });
});

describe("orders", () => {
  it("a lost order for a long-form IPv6 the vendor keeps short: found after the window, never bought twice", async () => {
    const n = Math.floor(Math.random() * 0xffff).toString(16);
    const body = liteOrder({ ip: `2001:DB8:0:0:0:0:${n}:1`, name: "v6-lost" });
    await h.vendor.fault("soft.order.param", "act-then-hang", 1);
    const [calls, money] = [orders(), await charged()];
    const { final, codes } = await followLiterally((key) => h.call("POST", "/licenses", { body, key }));
    expect(codes[0]).toBe("outcome_unknown");
    expect(final.status).toBe(201);
    expect(final.body.ip).toBe(`2001:db8::${n}:1`);
    expect([orders() - calls, (await charged()) - money]).toEqual([1, LITE_MONTH]);
  });

  it("an order the vendor places late: pending, then 201 with that licence", async () => {
    const body = liteOrder({ name: "late-order" });
    await h.vendor.fault("soft.order.param", "act-late", 1, 200);
    const [calls, money] = [orders(), await charged()];
    const key = crypto.randomUUID();
    const lost = await h.call("POST", "/licenses", { body, key });
    expect(lost).toMatchObject({ status: 504, body: { error: { code: "outcome_unknown" } } });
    const early = await h.call("POST", "/licenses", { body, key });
    expect(early).toMatchObject({ status: 409, body: { error: { code: "outcome_pending" } } });
    // The vendor places it (200 ms after the desk gave up, on its own timer), well inside the settle window.
    await expect.poll(charged, { interval: 20 }).toBe(money + LITE_MONTH);
    const { final, codes } = await followLiterally(() => h.call("POST", "/licenses", { body, key }));
    expect(codes).not.toContain("order_not_placed");
    expect(final).toMatchObject({ status: 201, body: { ip: body.ip, name: body.name } });
    expect([orders() - calls, (await charged()) - money]).toEqual([1, LITE_MONTH]);
  });

  it("an order that never reached the vendor: order_not_placed only after the window; the new key buys one", async () => {
    const body = liteOrder({ name: "never-placed" });
    await h.vendor.fault("soft.order.param", "timeout", 1);
    const money = await charged();
    const { final, codes } = await followLiterally((key) => h.call("POST", "/licenses", { body, key }));
    expect(codes.slice(0, 1)).toEqual(["outcome_unknown"]);
    expect(codes).toContain("order_not_placed");
    expect(final.status).toBe(201);
    expect((await charged()) - money).toBe(LITE_MONTH);
  });

  it("the scheduled reconciler settles a lost order with no client retry, and tells staff its licence id", async () => {
    // A pass as Lambda runs it, with its own time left (real time, which a moved clock never shortens).
    const { handler } = await import("../../functions/reconciler.ts");
    const lambda = { getRemainingTimeInMillis: () => 300_000 };
    const body = liteOrder({ name: "reconciled" });
    await h.vendor.fault("soft.order.param", "act-then-drop", 1);
    const key = crypto.randomUUID();
    const lost = await h.call("POST", "/licenses", { body, key });
    expect(lost.status).toBe(504);
    const placed = (await h.vendor.state()).licences.find((l) => l.ip === body.ip) as { id: string };
    const told = () =>
      existsSync(outbox) && readFileSync(outbox, "utf8").includes(`settled as placed: licence ${placed.id}`);
    // Five seconds before its window ends, a pass leaves it alone.
    h.advance(SETTLE_SECONDS * 1000 - 5000);
    expect(await handler(undefined, lambda)).toMatchObject({ settled: 0 });
    expect(told()).toBe(false);
    h.advance(5000);
    const pass = await handler(undefined, lambda);
    expect(pass.settled).toBeGreaterThanOrEqual(1);
    expect(told()).toBe(true);
    const retry = await h.call("POST", "/licenses", { body, key });
    expect(retry).toMatchObject({ status: 201, body: { id: placed.id } });
    expect(retry.headers["idempotent-replayed"]).toBe("true");
  });

  it.each([
    ["ip", "fe80::1%eth0"],
    ["ip", "::"],
    ["ip", "0.0.0.0"],
    ["ip", "127.0.0.1"],
    ["name", "bad\uFFFEname"],
    ["name", "lone\uD800surrogate"],
  ])("a %s the vendor cannot hold as sent (%j): 400 naming it, nothing sent", async (field, value) => {
    const calls = h.vendor.sandbox.calls.length;
    const answer = await h.call("POST", "/licenses", {
      body: liteOrder({ [field]: value }),
      key: crypto.randomUUID(),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.details.fields).toHaveProperty(field);
    expect(h.vendor.sandbox.calls.length).toBe(calls);
  });
});
