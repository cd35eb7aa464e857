import { afterEach, describe, expect, it } from "vitest";
import type { Sandbox, SandboxOptions } from "../../sandbox/server.ts";
import type { SeedInput } from "../../sandbox/state.ts";
import { at, call, expectError, expectOk, fixture, jsonDoc, start, xmlDoc } from "./support.ts";

/*
 * service.changepricelist: a tariff change of one licence within its product line, charged at once by
 * the sandbox's own proration (pricing.ts tariffChangeMinor), the expiry unchanged. Every date is the
 * injected sandbox clock's; nothing here sleeps.
 */

let sandbox: Sandbox;
async function open(options: SandboxOptions = {}): Promise<Sandbox> {
  sandbox = await start(options);
  return sandbox;
}
afterEach(() => sandbox?.close());

const FUNC = "service.changepricelist";

/** An ISPmanager 5 Lite licence, monthly, running to 2021-06-01. */
const LITE: SeedInput = {
  id: "100",
  licname: "web-1",
  ip: "10.0.0.1",
  pricelist: "3541",
  period: 1,
  createdate: "2021-05-01",
  expiredate: "2021-06-01",
};

/** An ISPmanager 5 Business licence with 2 cluster nodes, monthly, running to 2021-06-01. */
const BUSINESS: SeedInput = { ...LITE, id: "101", ip: "10.0.0.2", pricelist: "4601", nodes: 2 };

const change = (params: Record<string, string | undefined>) => call(sandbox, { func: FUNC, ...params });
const changeOk = (params: Record<string, string | undefined>) => change({ ...params, sok: "ok" });

/** What a refused or quoted call must leave alone: the book, the balance and the charge log. */
function book() {
  const { licences, balanceMinor, chargedMinor, charges } = sandbox.state.snapshot();
  return { licences, balanceMinor, chargedMinor, charges };
}

describe("service.changepricelist: the price", () => {
  it("charges the prorated difference of Lite to Business at once and keeps the expiry", async () => {
    await open({ now: at("2021-05-11") });
    const before = sandbox.state.seed(LITE);
    expectOk(await changeOk({ elid: "100", pricelist: "4601" }));
    // (1400 + 1 node x 300 - 600) x 21 days left / 31 days of the period 2021-05-01..2021-06-01 = 745.16.
    expect(sandbox.state.charges()).toEqual([
      { func: FUNC, elid: "100", amountMinor: 745, at: expect.stringMatching(/^2021-05-11T/) },
    ]);
    expect(sandbox.state.balanceMinor).toBe(100_000 - 745);
    expect(sandbox.state.chargedMinor).toBe(745);
    expect(sandbox.state.get("100")).toEqual({ ...before, pricelist: "4601", nodes: 1 });
  });

  it("prices the nodes asked for, and keeps the licence's period unless one is sent", async () => {
    await open({ now: at("2021-05-11") });
    sandbox.state.seed(LITE);
    expectOk(await changeOk({ elid: "100", pricelist: "4601", addon_4602: "3" }));
    // (1400 + 3 x 300 - 600) x 21 / 31 = 1151.6.
    expect(sandbox.state.charges().map((c) => c.amountMinor)).toEqual([1152]);
    expect(sandbox.state.get("100")).toMatchObject({
      pricelist: "4601",
      nodes: 3,
      period: 1,
      expiredate: "2021-06-01",
    });
  });

  it("prices a period that is sent over that period's days, and the licence takes it", async () => {
    await open({ now: at("2021-05-11") });
    sandbox.state.seed(LITE);
    expectOk(await changeOk({ elid: "100", pricelist: "4601", period: "12" }));
    // (14000 + 3000 - 6000) x 21 / 365 days (2020-06-01..2021-06-01) = 632.9.
    expect(sandbox.state.charges().map((c) => c.amountMinor)).toEqual([633]);
    expect(sandbox.state.get("100")).toMatchObject({
      pricelist: "4601",
      period: 12,
      expiredate: "2021-06-01",
    });
  });

  it("changes an ISPmanager 6 licence within its line over a yearly period", async () => {
    await open({ now: at("2021-05-11") });
    sandbox.state.seed({
      ...LITE,
      pricelist: "55227",
      period: 12,
      createdate: "2021-03-01",
      expiredate: "2022-03-01",
    });
    expectOk(await changeOk({ elid: "100", pricelist: "55230", addon_55236: "2" }));
    // (16000 + 2 x 3000 - 7000) x 294 days left / 365 = 12082.2.
    expect(sandbox.state.charges().map((c) => c.amountMinor)).toEqual([12_082]);
    expect(sandbox.state.get("100")).toMatchObject({
      pricelist: "55230",
      nodes: 2,
      expiredate: "2022-03-01",
    });
  });

  it("charges for every day left when the licence was renewed ahead", async () => {
    await open({ now: at("2021-05-11") });
    sandbox.state.seed({ ...LITE, expiredate: "2021-08-01" });
    expectOk(await changeOk({ elid: "100", pricelist: "4601" }));
    // 1100 x 82 days left / 31 days of 2021-07-01..2021-08-01 = 2909.7.
    expect(sandbox.state.charges().map((c) => c.amountMinor)).toEqual([2910]);
  });

  it("charges more nodes on the same tariff, the licence's nodes being the default", async () => {
    await open({ now: at("2021-05-11") });
    sandbox.state.seed(BUSINESS);
    // 4601 with no addon_4602 keeps the 2 nodes: the same tariff.
    expectError(await changeOk({ elid: "101", pricelist: "4601" }), "value", "pricelist");
    expectOk(await changeOk({ elid: "101", pricelist: "4601", addon_4602: "3" }));
    // One more node: 300 x 21 / 31 = 203.2.
    expect(sandbox.state.charges().map((c) => c.amountMinor)).toEqual([203]);
    expect(sandbox.state.get("101")).toMatchObject({ pricelist: "4601", nodes: 3 });
  });

  it("charges 0 for a downgrade (no refund), the change still made and logged", async () => {
    await open({ now: at("2021-05-11") });
    const before = sandbox.state.seed(BUSINESS);
    expectOk(await changeOk({ elid: "101", pricelist: "3541" }));
    expect(sandbox.state.balanceMinor).toBe(100_000);
    expect(sandbox.state.chargedMinor).toBe(0);
    expect(sandbox.state.charges()).toMatchObject([{ func: FUNC, elid: "101", amountMinor: 0 }]);
    expect(sandbox.state.get("101")).toEqual({ ...before, pricelist: "3541", nodes: null });
  });

  it("charges 0 for an upgrade on the expiry day", async () => {
    await open({ now: at("2021-06-01T12:00:00Z") });
    sandbox.state.seed(LITE);
    expect(xmlDoc(await change({ elid: "100", pricelist: "4601" })).price).toBe("0.00 EUR");
    expectOk(await changeOk({ elid: "100", pricelist: "4601" }));
    expect(sandbox.state.chargedMinor).toBe(0);
    expect(sandbox.state.get("100")).toMatchObject({ pricelist: "4601", status: "2" });
  });

  it("refuses a change the balance cannot pay, changing nothing", async () => {
    await open({ now: at("2021-05-11"), balanceMinor: 744 });
    sandbox.state.seed(LITE);
    const before = book();
    expectError(await changeOk({ elid: "100", pricelist: "4601" }), "balance", "account");
    expect(book()).toEqual(before);
  });
});

describe("service.changepricelist: the form without sok=ok", () => {
  it("quotes the change, with the target's nodes, and changes nothing", async () => {
    await open({ now: at("2021-05-11") });
    sandbox.state.seed(LITE);
    const before = book();
    const form = xmlDoc(await change({ elid: "100", pricelist: "4601" }));
    expect(form).toEqual({
      "@_lang": "en",
      "@_func": FUNC,
      "@_binary": "/billmgr",
      elid: "100",
      pricelist: "4601",
      period: "1",
      addon_4602: "1",
      price: "7.45 EUR",
    });
    // (14000 + 3 x 3000 - 6000) x 21 / 365 = 978.1; a blank sok is the form too.
    expect(
      xmlDoc(await change({ elid: "100", pricelist: "4601", addon_4602: "3", period: "12", sok: "" })),
    ).toMatchObject({ pricelist: "4601", period: "12", addon_4602: "3", price: "9.78 EUR" });
    expect(book()).toEqual(before);
  });

  it("has no addon element for a target without an addon, and answers JSON too", async () => {
    await open({ now: at("2021-05-11") });
    sandbox.state.seed(BUSINESS);
    const form = jsonDoc(await change({ elid: "101", pricelist: "3541", out: "json" }));
    expect(form).toMatchObject({
      $func: FUNC,
      elid: { $: "101" },
      pricelist: { $: "3541" },
      period: { $: "1" },
      price: { $: "0.00 EUR" },
    });
    expect(form.addon_4602).toBeUndefined();
    expect(sandbox.state.get("101")).toMatchObject({ pricelist: "4601", nodes: 2 });
  });
});

describe("service.changepricelist: refusals charge and change nothing", () => {
  it("refuses a tariff of another product line", async () => {
    await open({ now: at("2021-05-11") });
    sandbox.state.seed(LITE);
    const before = book();
    for (const pricelist of ["55227", "55230"]) {
      const message = expectError(await changeOk({ elid: "100", pricelist }), "value", "pricelist");
      expect(message).toBe("The tariff cannot be changed to another product line");
      expectError(await change({ elid: "100", pricelist }), "value", "pricelist");
    }
    expect(book()).toEqual(before);
  });

  it("refuses the licence's own tariff at the same nodes", async () => {
    await open({ now: at("2021-05-11") });
    sandbox.state.seed(LITE);
    sandbox.state.seed(BUSINESS);
    const before = book();
    for (const params of [
      { elid: "100", pricelist: "3541" },
      { elid: "100", pricelist: "3541", period: "12" },
      { elid: "101", pricelist: "4601" },
      { elid: "101", pricelist: "4601", addon_4602: "2" },
    ]) {
      const message = expectError(await changeOk(params), "value", "pricelist");
      expect(message).toBe("The licence already has this tariff");
    }
    expect(book()).toEqual(before);
  });

  it("refuses a tariff whose sales are closed, from 2021-06-15 inclusive", async () => {
    await open({ now: at("2021-06-14T23:59:00Z") });
    sandbox.state.seed({ ...LITE, expiredate: "2021-07-01" });
    sandbox.state.seed({ ...LITE, id: "102", ip: "10.0.0.3", expiredate: "2021-07-01" });
    expectOk(await changeOk({ elid: "100", pricelist: "4601" }));
    sandbox.setNow(at("2021-06-15"));
    const before = book();
    const message = expectError(await changeOk({ elid: "102", pricelist: "4601" }), "value", "pricelist");
    expect(message).toBe("The tariff is no longer available for order");
    expectError(await change({ elid: "102", pricelist: "4601" }), "value", "pricelist");
    expect(book()).toEqual(before);
  });

  it("refuses a licence that is not active: suspended, lapsed unpaid or still processing", async () => {
    await open({ now: at("2021-05-11"), provisionMs: 60_000 });
    sandbox.state.seed(LITE);
    expectOk(await call(sandbox, { func: "soft.suspend", elid: "100" }));
    sandbox.state.seed({ ...LITE, id: "102", ip: "10.0.0.3", expiredate: "2021-05-10", status: "3" });
    sandbox.state.seed({ ...LITE, id: "103", ip: "10.0.0.4", status: "5" });
    const before = book();
    const messages = [];
    for (const elid of ["100", "102", "103"]) {
      messages.push(expectError(await changeOk({ elid, pricelist: "4601" }), "access", FUNC));
      expectError(await change({ elid, pricelist: "4601" }), "access", FUNC);
    }
    expect(messages).toEqual([
      "The tariff of this licence cannot be changed: the licence is suspended; resume it first",
      "The tariff of this licence cannot be changed: the licence expired on 2021-05-10; renew it first",
      "The tariff of this licence cannot be changed: the licence is not active yet",
    ]);
    expect(book()).toEqual(before);
  });

  it("answers missed/elid for an unknown, a deleted or no licence, as live() does", async () => {
    await open({ now: at("2021-05-11") });
    sandbox.state.seed(LITE);
    expectOk(await call(sandbox, { func: "soft.delete", elid: "100" }));
    const before = book();
    const expected = xmlDoc(fixture("error-missed-elid.xml")).error;
    for (const elid of ["334673", "100", "", undefined]) {
      const answer = await changeOk({ elid, pricelist: "4601" });
      expectError(answer, "missed", "elid");
      expect(xmlDoc(answer).error.msg).toBe(expected.msg);
      expectError(await change({ elid, pricelist: "4601" }), "missed", "elid");
    }
    expectError(await changeOk({ elid: "abc", pricelist: "4601" }), "value", "elid");
    expect(book()).toEqual(before);
  });

  it("refuses an unknown tariff, a period it does not sell and an addon it does not have", async () => {
    await open({ now: at("2021-05-11") });
    sandbox.state.seed(LITE);
    const before = book();
    expect(expectError(await changeOk({ elid: "100", pricelist: "9999" }), "value", "pricelist")).toBe(
      "Unknown tariff",
    );
    expectError(await changeOk({ elid: "100" }), "value", "pricelist");
    expectError(await changeOk({ elid: "100", pricelist: "4601", period: "2" }), "value", "period");
    expectError(await changeOk({ elid: "100", pricelist: "4601", addon_4602: "0" }), "value", "addon_4602");
    expectError(await changeOk({ elid: "100", pricelist: "4601", addon_55236: "1" }), "value", "addon_55236");
    expectError(await changeOk({ elid: "100", pricelist: "3541", addon_4602: "1" }), "value", "addon_4602");
    expect(book()).toEqual(before);
  });
});

describe("service.changepricelist: the generic machinery of a money call", () => {
  it("is recorded, and a fault on it acts or not as on service.prolong", async () => {
    await open({ now: at("2021-05-11") });
    sandbox.state.seed(LITE);
    sandbox.state.seed({ ...LITE, id: "102", ip: "10.0.0.3" });
    sandbox.faults.add({ func: FUNC, kind: "throttle" });
    const throttled = await changeOk({ elid: "100", pricelist: "4601" });
    expect([throttled.status, throttled.headers.get("retry-after")]).toEqual([429, "1"]);
    expect(sandbox.state.chargedMinor).toBe(0);
    // Acted, then the answer is lost: the change is charged and made all the same.
    sandbox.faults.add({ func: FUNC, kind: "act-then-drop" });
    await expect(changeOk({ elid: "100", pricelist: "4601" })).rejects.toThrow();
    expect(sandbox.state.get("100")?.pricelist).toBe("4601");
    expect(sandbox.state.charges()).toMatchObject([{ func: FUNC, elid: "100", amountMinor: 745 }]);
    // A held call acts on the book as it is once released.
    sandbox.faults.add({ func: FUNC, kind: "hold" });
    const held = changeOk({ elid: "102", pricelist: "4601" });
    await expect.poll(() => sandbox.callCount(FUNC)).toBe(3);
    expect(sandbox.state.get("102")?.pricelist).toBe("3541");
    expect(sandbox.release()).toBe(1);
    expectOk(await held);
    expect(sandbox.state.get("102")?.pricelist).toBe("4601");
    // no-expiry leaves its answer as it is: there is no newexpiredate in it.
    sandbox.faults.add({ func: FUNC, kind: "no-expiry" });
    expectOk(await changeOk({ elid: "102", pricelist: "4601", addon_4602: "2" }));
    expect(sandbox.calls.map((c) => [c.func, c.params.elid, c.fault])).toEqual([
      [FUNC, "100", "throttle"],
      [FUNC, "100", "act-then-drop"],
      [FUNC, "102", "hold"],
      [FUNC, "102", "no-expiry"],
    ]);
    expect(sandbox.calls.every((c) => c.params.authinfo === undefined)).toBe(true);
    expect(sandbox.state.chargedMinor).toBe(745 + 745 + 203);
  });
});
