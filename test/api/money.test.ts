import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Answer, type ApiHarness, apiHarness, freshIp } from "../support/api.ts";
import { liteOrder } from "../support/fixtures.ts";

/**
 * The money rules: an order or a renewal is sent to the vendor at most once per Idempotency-Key,
 * whatever the client does (retry, duplicate, race) and whatever the vendor does (time out after acting).
 */
let h: ApiHarness;
beforeAll(async () => {
  // A short vendor timeout keeps the fault tests quick; the client's timers have ~0.5 s resolution. The
  // settle window is the shipped one (RECONCILE_AFTER_SECONDS, 900 s): the tests move the clock past it.
  h = await apiHarness({ now: "2021-05-01", env: { BILLMGR_TIMEOUT_MS: "400" } });
});
afterAll(() => h.close());
beforeEach(() => h.vendor.sandbox.faults.clear());

const orders = () => h.vendor.calls("soft.order.param");
const renewals = () => h.vendor.calls("service.prolong");
const balance = async () => (await h.vendor.state()).balance;
/** The shipped settle window: only past it is an unknown outcome decided. */
const SETTLE_MS = 900_000;
/** Waits (on the moved clock) as long as the answer's Retry-After says, as a client would. */
const waitAsTold = (answer: Answer) => {
  const seconds = Number(answer.headers["retry-after"]);
  expect(seconds, "Retry-After").toBeGreaterThanOrEqual(1);
  h.advance(seconds * 1000);
};

describe("orders", () => {
  it("a retry with the same key and body answers the first result and buys nothing more", async () => {
    const body = liteOrder();
    const first = await h.call("POST", "/licenses", { body, key: "order-retry" });
    const before = [orders(), await balance()];
    const again = await h.call("POST", "/licenses", { body, key: "order-retry" });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect([orders(), await balance()]).toEqual(before);
  });

  it("the same key with another body: 422, nothing sent", async () => {
    await h.call("POST", "/licenses", { body: liteOrder(), key: "order-other-body" });
    const before = orders();
    const other = await h.call("POST", "/licenses", { body: liteOrder(), key: "order-other-body" });
    expect(other).toMatchObject({ status: 422, body: { error: { code: "idempotency_key_reused" } } });
    expect(orders()).toBe(before);
  });

  // Keys are scoped per API client: test/licences/idempotency.test.ts proves that on the store.
  it("a new key is a new, deliberate purchase", async () => {
    const body = liteOrder();
    const a = await h.call("POST", "/licenses", { body, key: "deliberate-1" });
    const b = await h.call("POST", "/licenses", { body: { ...body, ip: freshIp() }, key: "deliberate-2" });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.id).not.toBe(b.body.id);
  });

  it("20 concurrent requests with one key buy exactly one licence", async () => {
    const body = liteOrder({ name: "race" });
    await h.vendor.fault("soft.order.param", "slow", 1, 300);
    const before = orders();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => h.call("POST", "/licenses", { body, key: "order-race" })),
    );
    expect(orders() - before).toBe(1);
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    const ids = new Set(answers.filter((a) => a.status === 201).map((a) => a.body.id));
    expect(ids.size).toBe(1);
    for (const busy of answers.filter((a) => a.status === 409))
      expect(busy.body.error.code).toBe("request_in_progress");
    const list = await h.call("GET", "/licenses?limit=100");
    expect(list.body.items.filter((l: { ip: string }) => l.ip === body.ip)).toHaveLength(1);
  });

  it.each(["act-then-hang", "act-then-drop"] as const)(
    "the vendor acts and never answers (%s): 504 unknown, and the retry reconciles without a second order",
    async (fault) => {
      const body = liteOrder({ name: `ghost-${fault}` });
      await h.vendor.fault("soft.order.param", fault, 1);
      const before = orders();
      const lost = await h.call("POST", "/licenses", { body, key: `ghost-${fault}` });
      expect(lost.status).toBe(504);
      expect(lost.body).toMatchObject({ outcome: "unknown", error: { code: "outcome_unknown" } });
      expect(orders() - before).toBe(1);

      expect(lost.headers["retry-after"]).toBe(String(SETTLE_MS / 1000));

      const early = await h.call("POST", "/licenses", { body, key: `ghost-${fault}` });
      expect(early).toMatchObject({ status: 409, body: { error: { code: "outcome_pending" } } });
      // Five seconds before the window ends it is still pending, and says how little is left.
      h.advance(SETTLE_MS - 5000);
      const almost = await h.call("POST", "/licenses", { body, key: `ghost-${fault}` });
      expect(almost).toMatchObject({ status: 409, body: { error: { code: "outcome_pending" } } });
      expect(Number(almost.headers["retry-after"])).toBeLessThanOrEqual(5);
      expect(orders() - before).toBe(1);
      waitAsTold(almost);
      const retry = await h.call("POST", "/licenses", { body, key: `ghost-${fault}` });
      expect(retry.status).toBe(201);
      expect(retry.body).toMatchObject({ name: body.name, ip: body.ip, status: "active" });
      const again = await h.call("POST", "/licenses", { body, key: `ghost-${fault}` });
      expect(again.body).toEqual(retry.body);
      expect(orders() - before).toBe(1);
      expect((await h.call("GET", `/licenses/${retry.body.id}`)).status).toBe(200);
    },
  );

  it("the vendor times out before acting: 504 unknown, and the retry finds no order and says so", async () => {
    const body = liteOrder({ name: "never-placed" });
    await h.vendor.fault("soft.order.param", "timeout", 1);
    const before = orders();
    const lost = await h.call("POST", "/licenses", { body, key: "never-placed" });
    expect(lost).toMatchObject({ status: 504, body: { outcome: "unknown" } });
    waitAsTold(lost);
    const retry = await h.call("POST", "/licenses", { body, key: "never-placed" });
    expect(retry).toMatchObject({ status: 409, body: { error: { code: "order_not_placed" } } });
    expect(orders() - before).toBe(1);
    // Nothing was bought: a new key may order it now.
    const fresh = await h.call("POST", "/licenses", { body, key: "never-placed-2" });
    expect(fresh.status).toBe(201);
  });

  it("a vendor refusal releases the key: after topping up, the same key may buy", async () => {
    const body = liteOrder({ name: "short-of-money" });
    const saved = (await h.vendor.state()) as unknown as { balanceMinor: number };
    await h.vendor.setBalance(0);
    const refused = await h.call("POST", "/licenses", { body, key: "top-up" });
    expect(refused).toMatchObject({ status: 402, body: { error: { code: "insufficient_balance" } } });
    await h.vendor.setBalance(saved.balanceMinor);
    const bought = await h.call("POST", "/licenses", { body, key: "top-up" });
    expect(bought.status).toBe(201);
  });

  it("after the sales close (2021-06-15): 422 lifecycle_closed, no vendor call", async () => {
    h.setToday("2021-06-15");
    try {
      const before = h.vendor.sandbox.calls.length;
      const closed = await h.call("POST", "/licenses", { body: liteOrder(), key: "too-late" });
      expect(closed.status).toBe(422);
      expect(closed.body.error).toMatchObject({
        code: "lifecycle_closed",
        details: { closedOn: "2021-06-15" },
      });
      expect(h.vendor.sandbox.calls.length).toBe(before);
      const check = await h.call("GET", `/ip-availability?ip=${freshIp()}&product=ispmanager5-lite&period=1`);
      expect(check.body).toMatchObject({ available: false });
      expect(h.vendor.sandbox.calls.length).toBe(before);
    } finally {
      h.setToday("2021-05-01");
    }
  });
});

describe("renewals", () => {
  const bought = async () =>
    (await h.call("POST", "/licenses", { body: liteOrder(), key: crypto.randomUUID() })).body;

  it("a retried renewal renews once", async () => {
    const licence = await bought();
    const first = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 1 },
      key: "renew-twice",
    });
    const before = renewals();
    const again = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 1 },
      key: "renew-twice",
    });
    expect(first.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(renewals()).toBe(before);
    expect(first.body.expiresOn).toBe("2021-07-01");
  });

  it("20 concurrent renewals with one key renew once", async () => {
    const licence = await bought();
    await h.vendor.fault("service.prolong", "slow", 1, 300);
    const before = renewals();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        h.call("POST", `/licenses/${licence.id}/renew`, { body: { period: 1 }, key: "renew-race" }),
      ),
    );
    expect(renewals() - before).toBe(1);
    expect(answers.every((a) => a.status === 200 || a.status === 409)).toBe(true);
    const refreshed = await h.call("GET", `/licenses/${licence.id}?refresh=true`);
    expect(refreshed.body.expiresOn).toBe("2021-07-01");
  });

  it("the vendor renews and never answers: 504 unknown; the retry sees the new expiry without renewing again", async () => {
    const licence = await bought();
    await h.vendor.fault("service.prolong", "act-then-hang", 1);
    const before = renewals();
    const lost = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 1 },
      key: "renew-ghost",
    });
    expect(lost).toMatchObject({ status: 504, body: { outcome: "unknown" } });
    waitAsTold(lost);
    const retry = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 1 },
      key: "renew-ghost",
    });
    expect(retry.status).toBe(200);
    expect(retry.body.expiresOn).toBe("2021-07-01");
    expect(renewals() - before).toBe(1);
  });

  it("a renewal an hour later on the moved clock still has its whole time budget: deadlines are real time", async () => {
    const licence = await bought();
    h.advance(3_600_000);
    const before = renewals();
    // A deadline measured on the moved clock would be an hour past: deadline_near, nothing sent.
    const renewed = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 1 },
      key: "renew-an-hour-on",
    });
    expect(renewed).toMatchObject({ status: 200, body: { expiresOn: "2021-07-01" } });
    expect(renewals() - before).toBe(1);
  });

  it("a renewal that never reached the vendor is reported as not applied", async () => {
    const licence = await bought();
    await h.vendor.fault("service.prolong", "timeout", 1);
    const lost = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 1 },
      key: "renew-lost",
    });
    expect(lost.status).toBe(504);
    waitAsTold(lost);
    const retry = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 1 },
      key: "renew-lost",
    });
    expect(retry).toMatchObject({ status: 409, body: { error: { code: "renewal_not_applied" } } });
  });

  it("after the renewals close: 422 lifecycle_closed, no vendor call", async () => {
    const licence = await bought();
    h.setToday("2021-06-20");
    try {
      const before = h.vendor.sandbox.calls.length;
      const closed = await h.call("POST", `/licenses/${licence.id}/renew`, {
        body: { period: 1 },
        key: "late",
      });
      expect(closed).toMatchObject({ status: 422, body: { error: { code: "lifecycle_closed" } } });
      expect(h.vendor.sandbox.calls.length).toBe(before);
    } finally {
      h.setToday("2021-05-01");
    }
  });
});

describe("a suspend and a renewal of one licence never interleave at the vendor", () => {
  const suspends = () => h.vendor.calls("soft.suspend");

  it("a suspend while a renewal is at the vendor is refused, nothing sent; once it is done, it goes through", async () => {
    const ordered = await h.call("POST", "/licenses", { body: liteOrder(), key: "hold-order-1" });
    const id = ordered.body.id as string;
    await h.vendor.fault("service.prolong", "slow", 1, 300);
    const sent = renewals();
    const renewing = h.call("POST", `/licenses/${id}/renew`, { body: { period: 1 }, key: "hold-renew-1" });
    // The renewal is at the vendor (which answers it 300 ms later) when the suspend comes.
    await expect.poll(renewals, { interval: 5 }).toBe(sent + 1);
    const before = suspends();
    const refused = await h.call("POST", `/licenses/${id}/suspend`);
    expect(refused).toMatchObject({ status: 409, body: { error: { code: "renewal_in_flight" } } });
    expect(refused.body.error.message).toContain("Suspend it again once the renewal is done");
    expect(suspends()).toBe(before);
    expect((await renewing).status).toBe(200);
    const suspended = await h.call("POST", `/licenses/${id}/suspend`);
    expect(suspended.status).toBe(200);
    expect(suspends()).toBe(before + 1);
    expect((await h.vendor.state()).licences.find((l) => l.id === id)?.status).toBe("3");
  });

  it("a renewal while a suspend is at the vendor is refused with renewal_not_wanted, nothing charged", async () => {
    const ordered = await h.call("POST", "/licenses", { body: liteOrder(), key: "hold-order-2" });
    const id = ordered.body.id as string;
    await h.vendor.fault("soft.suspend", "slow", 1, 300);
    const sent = suspends();
    const suspending = h.call("POST", `/licenses/${id}/suspend`);
    // The suspend is at the vendor (which answers it 300 ms later) when the renewal comes.
    await expect.poll(suspends, { interval: 5 }).toBe(sent + 1);
    const [calls, money] = [renewals(), await balance()];
    const refused = await h.call("POST", `/licenses/${id}/renew`, {
      body: { period: 1 },
      key: "hold-renew-2",
    });
    expect(refused).toMatchObject({ status: 409, body: { error: { code: "renewal_not_wanted" } } });
    expect(refused.body.error.message).toContain("it is being suspended through the desk");
    expect([renewals(), await balance()]).toEqual([calls, money]);
    expect((await suspending).status).toBe(200);
  });
});
