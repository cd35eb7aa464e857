import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { METRICS_NAMESPACE } from "../../shared/metrics.ts";
import { type Answer, type ApiHarness, apiHarness, freshIp } from "../support/api.ts";
import { liteOrder } from "../support/fixtures.ts";
import { emfDuring, seriesOf, valuesOf } from "./support.ts";

/**
 * What a request of the API reports to CloudWatch, read from the EMF lines the real route handlers write
 * to stdout (the local server runs them in this process): its vendor calls and its money outcome, all
 * written once, when the request ends.
 */
const SERVICE = "desk-metrics-test";
let h: ApiHarness;
beforeAll(async () => {
  h = await apiHarness({
    now: "2021-05-01",
    env: {
      // Off by default outside Lambda; these tests read the lines.
      POWERTOOLS_METRICS_DISABLED: "false",
      POWERTOOLS_SERVICE_NAME: SERVICE,
      // The stack's route limits (one retry of a read), a short timeout to keep the fault tests quick.
      BILLMGR_RETRIES: "1",
      BILLMGR_TIMEOUT_MS: "400",
    },
  });
});
afterAll(() => h.close());
beforeEach(() => h.vendor.sandbox.faults.clear());

const check = (ip: string) => `/ip-availability?ip=${ip}&product=ispmanager5-lite&period=1`;
/** Waits (on the moved clock) as long as the answer's Retry-After says: past the settle window. */
const waitAsTold = (answer: Answer) => {
  const seconds = Number(answer.headers["retry-after"]);
  expect(seconds, "Retry-After").toBeGreaterThanOrEqual(1);
  h.advance(seconds * 1000);
};

describe("a vendor call", () => {
  it("that answers: one VendorCall timing by function and result, and one by result alone", async () => {
    const lines = await emfDuring(async () => {
      expect((await h.call("GET", check(freshIp()))).status).toBe(200);
    });
    expect(seriesOf(lines)).toEqual(["VendorCall{func=soft.checkip,result=ok}", "VendorCall{result=ok}"]);
    for (const line of lines) {
      expect(line.namespace).toBe(METRICS_NAMESPACE);
      expect(line.dimensions.service).toBe(SERVICE);
      expect(line.metrics.VendorCall?.unit).toBe("Milliseconds");
    }
    const [byFunc] = valuesOf(lines, "VendorCall", { service: SERVICE, func: "soft.checkip", result: "ok" });
    expect(byFunc).toBeGreaterThan(0);
    expect(valuesOf(lines, "VendorCall", { service: SERVICE, result: "ok" })).toEqual([byFunc]);
  });

  it("that the vendor refuses with its <error>: result vendor_error, even where the API answers 200", async () => {
    const ip = freshIp();
    await emfDuring(async () => {
      expect(
        (await h.call("POST", "/licenses", { body: liteOrder({ ip }), key: `taken-${ip}` })).status,
      ).toBe(201);
    });
    const lines = await emfDuring(async () => {
      const taken = await h.call("GET", check(ip));
      expect(taken.body).toMatchObject({ available: false });
    });
    expect(seriesOf(lines)).toEqual([
      "VendorCall{func=soft.checkip,result=vendor_error}",
      "VendorCall{result=vendor_error}",
    ]);
  });

  it("that the network drops: result unavailable for that attempt, and the retried read's own attempt", async () => {
    await h.vendor.fault("soft.checkip", "drop", 1);
    const lines = await emfDuring(async () => {
      expect((await h.call("GET", check(freshIp()))).status).toBe(200);
    });
    expect(seriesOf(lines)).toEqual([
      "VendorCall{func=soft.checkip,result=ok}",
      "VendorCall{func=soft.checkip,result=unavailable}",
      "VendorCall{result=ok}",
      "VendorCall{result=unavailable}",
    ]);
    expect(valuesOf(lines, "VendorCall", { service: SERVICE, result: "unavailable" })).toHaveLength(1);
  });

  it("that the network drops every time: unavailable on each attempt, the request answered 502", async () => {
    await h.vendor.fault("soft.checkip", "drop", 10);
    const lines = await emfDuring(async () => {
      expect((await h.call("GET", check(freshIp()))).status).toBe(502);
    });
    expect(seriesOf(lines)).toEqual([
      "VendorCall{func=soft.checkip,result=unavailable}",
      "VendorCall{result=unavailable}",
    ]);
    // The route's vendor limits: one read tried twice.
    expect(valuesOf(lines, "VendorCall", { service: SERVICE, result: "unavailable" })).toHaveLength(2);
  });
});

describe("a money outcome", () => {
  const outcomes = (lines: Awaited<ReturnType<typeof emfDuring>>) =>
    seriesOf(lines).filter((s) => s.startsWith("MoneyOutcome"));

  it("applied: the vendor answered the order", async () => {
    const lines = await emfDuring(async () => {
      expect((await h.call("POST", "/licenses", { body: liteOrder(), key: "metric-applied" })).status).toBe(
        201,
      );
    });
    expect(outcomes(lines)).toEqual(["MoneyOutcome{operation=order,outcome=applied}"]);
    const applied = lines.find((l) => l.metrics.MoneyOutcome);
    expect(applied?.metrics.MoneyOutcome).toEqual({ unit: "Count", values: [1] });
    expect(seriesOf(lines)).toContain("VendorCall{func=soft.order.param,result=ok}");
    // Written once, at the end of the request: one line per set of dimension values.
    const sets = lines.map((l) => JSON.stringify(l.dimensions));
    expect(new Set(sets).size).toBe(sets.length);
  });

  it("refused: the vendor's refusal (no balance); a replay of the answer counts nothing", async () => {
    const saved = (await h.vendor.state()).balanceMinor;
    await h.vendor.setBalance(0);
    try {
      const lines = await emfDuring(async () => {
        const refused = await h.call("POST", "/licenses", { body: liteOrder(), key: "metric-refused" });
        expect(refused.status).toBe(402);
      });
      expect(outcomes(lines)).toEqual(["MoneyOutcome{operation=order,outcome=refused}"]);
      expect(seriesOf(lines)).toContain("VendorCall{func=soft.order.param,result=vendor_error}");
    } finally {
      await h.vendor.setBalance(saved);
    }
    const body = liteOrder();
    await emfDuring(() => h.call("POST", "/licenses", { body, key: "metric-replayed" }));
    const replay = await emfDuring(() => h.call("POST", "/licenses", { body, key: "metric-replayed" }));
    expect(outcomes(replay)).toEqual([]);
  });

  it("unknown: sent and no answer; pending while its window runs; settled on the evidence after it", async () => {
    const body = liteOrder({ name: "metric-ghost" });
    await h.vendor.fault("soft.order.param", "act-then-hang", 1);
    const lost = await emfDuring(async () => {
      expect((await h.call("POST", "/licenses", { body, key: "metric-ghost" })).status).toBe(504);
    });
    expect(outcomes(lost)).toEqual(["MoneyOutcome{operation=order,outcome=unknown}"]);
    expect(seriesOf(lost)).toContain("VendorCall{func=soft.order.param,result=timeout}");

    let pending: Answer | undefined;
    const early = await emfDuring(async () => {
      pending = await h.call("POST", "/licenses", { body, key: "metric-ghost" });
      expect(pending.status).toBe(409);
    });
    expect(outcomes(early)).toEqual(["MoneyOutcome{operation=order,outcome=pending}"]);

    waitAsTold(pending as Answer);
    const settled = await emfDuring(async () => {
      expect((await h.call("POST", "/licenses", { body, key: "metric-ghost" })).status).toBe(201);
    });
    expect(outcomes(settled)).toEqual(["MoneyOutcome{operation=order,outcome=settled_applied}"]);
  });

  it("settled as not applied: the call timed out before the vendor acted", async () => {
    const body = liteOrder({ name: "metric-never" });
    await h.vendor.fault("soft.order.param", "timeout", 1);
    let lost: Answer | undefined;
    await emfDuring(async () => {
      lost = await h.call("POST", "/licenses", { body, key: "metric-never" });
    });
    waitAsTold(lost as Answer);
    const settled = await emfDuring(async () => {
      expect((await h.call("POST", "/licenses", { body, key: "metric-never" })).status).toBe(409);
    });
    expect(outcomes(settled)).toEqual(["MoneyOutcome{operation=order,outcome=settled_not_applied}"]);
  });
});
