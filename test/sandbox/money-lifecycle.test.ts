import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_PRODUCTS, standardPrices } from "../../sandbox/products.ts";
import type { Sandbox, SandboxOptions } from "../../sandbox/server.ts";
import { at, call, expectError, expectOk, ORDER, order, start, xmlDoc } from "./support.ts";

let sandbox: Sandbox;
async function open(options: SandboxOptions): Promise<Sandbox> {
  sandbox = await start(options);
  return sandbox;
}
afterEach(() => sandbox?.close());

const prolong = (elid: string, period: string) =>
  call(sandbox, { func: "service.prolong", elid, period, sok: "ok" });

describe("the balance", () => {
  it("is debited by orders at the product's price plus nodes", async () => {
    await open({ now: at("2021-05-01") });
    await order(sandbox, { ip: "10.0.0.1", pricelist: "3541", period: "1" });
    expect(sandbox.state.balanceMinor).toBe(100_000 - 600);
    await order(sandbox, { ip: "10.0.0.2", pricelist: "4601", period: "12", addon_4602: "3" });
    expect(sandbox.state.balanceMinor).toBe(100_000 - 600 - (14_000 + 3 * 3_000));
    await order(sandbox, { ip: "10.0.0.3", pricelist: "3541", period: "6" });
    expect(sandbox.state.balanceMinor).toBe(100_000 - 600 - 23_000 - 3_600);
  });

  it("is debited by renewals, nodes included", async () => {
    await open({ now: at("2021-05-01") });
    const id = await order(sandbox, { pricelist: "4601", period: "1", addon_4602: "2" });
    const afterOrder = sandbox.state.balanceMinor;
    expect(afterOrder).toBe(100_000 - 2_000);
    expectOk(await prolong(id, "3"));
    expect(sandbox.state.balanceMinor).toBe(afterOrder - (3 * 1_400 + 2 * 3 * 300));
  });

  it("refuses a renewal it cannot pay, changing nothing", async () => {
    await open({ now: at("2021-05-01") });
    const id = await order(sandbox, { pricelist: "3541", period: "1" });
    sandbox.state.setBalance(599);
    expectError(await prolong(id, "1"), "balance", "account");
    expect(sandbox.state.balanceMinor).toBe(599);
    expect(sandbox.state.get(id)?.expiredate).toBe("2021-06-01");
  });

  it("is shown by dashboard.info and subaccount", async () => {
    await open({ now: at("2021-05-01"), balanceMinor: 12_345 });
    expect(xmlDoc(await call(sandbox, { func: "dashboard.info" })).elem).toEqual([
      { balance: "123.45 EUR", credit: "0.00 EUR" },
    ]);
    expect(xmlDoc(await call(sandbox, { func: "subaccount" })).elem).toEqual([
      { id: "1", balance: "123.45", currency: "EUR" },
    ]);
  });

  it("is not touched by forms, the cart or checks", async () => {
    await open({ now: at("2021-05-01") });
    const form = xmlDoc(
      await call(sandbox, { func: "soft.order.param", pricelist: "4601", period: "12", addon_4602: "2" }),
    );
    expect(form).toMatchObject({ pricelist: "4601", period: "12", addon_4602: "2", price: "200.00 EUR" });
    // sok=ok without clicked_button=finish is still the wizard, not the purchase.
    xmlDoc(
      await call(sandbox, {
        ...ORDER,
        clicked_button: undefined,
        ip: "10.0.0.1",
        licname: "a",
        pricelist: "3541",
        period: "1",
      }),
    );
    const cart = await call(sandbox, {
      ...ORDER,
      skipbasket: "off",
      ip: "10.0.0.1",
      licname: "a",
      pricelist: "3541",
      period: "1",
    });
    expect(xmlDoc(cart)).toEqual({
      "@_lang": "en",
      "@_func": "soft.order.param",
      "@_binary": "/billmgr",
      ok: "",
    });
    expectOk(await call(sandbox, { func: "soft.checkip", ip: "10.0.0.1", pricelist: "3541", period: "1" }));
    expect(sandbox.state.balanceMinor).toBe(100_000);
    expect(sandbox.state.list()).toEqual([]);
  });
});

describe("the ISPmanager 5 lifecycle", () => {
  it("lets an order on 2021-03-01 for 12 months run to 2022-03-01", async () => {
    await open({ now: at("2021-03-01T12:00:00Z") });
    const id = await order(sandbox, { period: "12" });
    expect(sandbox.state.get(id)?.expiredate).toBe("2022-03-01");
  });

  it("caps an order on 2021-05-01 for 12 months at 2021-12-31", async () => {
    await open({ now: at("2021-05-01") });
    const id = await order(sandbox, { period: "12" });
    expect(sandbox.state.get(id)?.expiredate).toBe("2021-12-31");
    expect(sandbox.state.balanceMinor).toBe(100_000 - 6_000);
  });

  it("caps from 2021-04-08 inclusive", async () => {
    await open({ now: at("2021-04-07T23:59:00Z") });
    const before = await order(sandbox, { ip: "10.0.0.1", period: "12" });
    sandbox.setNow(at("2021-04-08"));
    const after = await order(sandbox, { ip: "10.0.0.2", period: "12" });
    expect([sandbox.state.get(before)?.expiredate, sandbox.state.get(after)?.expiredate]).toEqual([
      "2022-04-07",
      "2021-12-31",
    ]);
  });

  it("caps renewals at 2021-12-31 and refuses one for a licence already there", async () => {
    await open({ now: at("2021-05-01") });
    const id = await order(sandbox, { period: "1" });
    const form = xmlDoc(await call(sandbox, { func: "service.prolong", elid: id, period: "12" }));
    expect(form).toMatchObject({ expiredate: "2021-06-01", newexpiredate: "2021-12-31", period: "12" });
    expect(xmlDoc(await prolong(id, "12")).doc.newexpiredate).toBe("2021-12-31");
    const balance = sandbox.state.balanceMinor;
    const message = expectError(await prolong(id, "1"), "access", "service.prolong");
    expect(message).toMatch(/2021-12-31/);
    expect(sandbox.state.balanceMinor).toBe(balance);
  });

  it("renews a licence bought before 2021-04-08 beyond 2021-12-31 while renewals are still uncapped", async () => {
    await open({ now: at("2021-03-20") });
    sandbox.state.seed({
      id: "100",
      licname: "lts",
      ip: "10.0.0.1",
      pricelist: "3541",
      expiredate: "2021-04-01",
    });
    expect(xmlDoc(await prolong("100", "12")).doc.newexpiredate).toBe("2022-04-01");
  });

  it("refuses orders, checks and renewals from 2021-06-15", async () => {
    await open({ now: at("2021-06-14T23:59:59Z") });
    const id = await order(sandbox, { ip: "10.0.0.1" });
    sandbox.setNow(at("2021-06-15"));
    const balance = sandbox.state.balanceMinor;
    const refused = await call(sandbox, {
      ...ORDER,
      ip: "10.0.0.2",
      licname: "late",
      pricelist: "4601",
      period: "1",
    });
    expect(expectError(refused, "value", "pricelist")).toBe("The tariff is no longer available for order");
    expectError(
      await call(sandbox, { func: "soft.checkip", ip: "10.0.0.2", pricelist: "3541", period: "1" }),
      "value",
      "pricelist",
    );
    expectError(await prolong(id, "1"), "access", "service.prolong");
    expectError(
      await call(sandbox, { func: "service.prolong", elid: id, period: "1" }),
      "access",
      "service.prolong",
    );
    expect(sandbox.state.balanceMinor).toBe(balance);
    expect(sandbox.state.list()).toHaveLength(1);
  });

  it("does not apply to a product without a lifecycle (products are data)", async () => {
    const v6 = { pricelist: "6001", name: "ISPmanager 6 Lite", prices: standardPrices(700, 7_000) };
    await open({ now: at("2021-07-01"), products: [...DEFAULT_PRODUCTS, v6] });
    const id = await order(sandbox, { pricelist: "6001", period: "12" });
    expect(sandbox.state.get(id)?.expiredate).toBe("2022-07-01");
    expect(xmlDoc(await prolong(id, "12")).doc.newexpiredate).toBe("2023-07-01");
    expect(sandbox.state.balanceMinor).toBe(100_000 - 14_000);
  });
});

describe("expiry, suspension and deletion as the clock moves", () => {
  it("suspends for non-payment after the expiry date, deletes 30 days after it", async () => {
    await open({ now: at("2021-05-01") });
    sandbox.state.seed({
      id: "7",
      licname: "lapsing",
      ip: "10.0.0.7",
      pricelist: "3541",
      expiredate: "2021-05-10",
    });
    const status = async () => xmlDoc(await call(sandbox, { func: "soft" })).elem[1].status;

    sandbox.setNow(at("2021-05-10T23:59:59Z"));
    expect(await status()).toBe("2");
    sandbox.setNow(at("2021-05-11"));
    expect(await status()).toBe("3");
    expect(sandbox.state.get("7")?.suspendedBy).toBe("nonpayment");
    sandbox.setNow(at("2021-06-08"));
    expect(await status()).toBe("3");
    sandbox.setNow(at("2021-06-09"));
    expect(await status()).toBe("4");
    expectError(await call(sandbox, { func: "soft.edit", elid: "7" }), "missed", "elid");
  });

  it("reactivates a licence suspended for non-payment when it is renewed", async () => {
    await open({ now: at("2021-05-01") });
    sandbox.state.seed({
      id: "8",
      licname: "late payer",
      ip: "10.0.0.8",
      pricelist: "3541",
      expiredate: "2021-05-10",
    });
    sandbox.setNow(at("2021-05-20"));
    expect(sandbox.state.get("8")?.status).toBe("3");
    expect(xmlDoc(await prolong("8", "1")).doc.newexpiredate).toBe("2021-06-10");
    expect(sandbox.state.get("8")).toMatchObject({ status: "2", suspendedBy: null });
  });

  it("keeps a renewal too short to reach today suspended (February is shorter than the 30-day grace)", async () => {
    await open({ now: at("2021-03-02") });
    sandbox.state.seed({
      id: "9",
      licname: "far behind",
      ip: "10.0.0.9",
      pricelist: "3541",
      expiredate: "2021-02-01",
    });
    expectOk(await prolong("9", "1"));
    expect(sandbox.state.get("9")).toMatchObject({
      status: "3",
      suspendedBy: "nonpayment",
      expiredate: "2021-03-01",
    });
    expect(sandbox.state.balanceMinor).toBe(100_000 - 600);
  });

  it("keeps a user-suspended licence suspended by the user after a renewal", async () => {
    await open({ now: at("2021-05-01") });
    const id = await order(sandbox, {});
    await call(sandbox, { func: "soft.suspend", elid: id });
    expectOk(await prolong(id, "1"));
    expect(sandbox.state.get(id)).toMatchObject({
      status: "3",
      suspendedBy: "user",
      expiredate: "2021-07-01",
    });
  });

  it("answers processing (status 5, empty key) until the key is issued", async () => {
    await open({ now: at("2021-05-01T10:00:00Z"), provisionMs: 60_000 });
    const id = await order(sandbox, { ip: "82.156.37.30", licname: "new-1" });
    const pending = await call(sandbox, { func: "soft.edit", elid: id });
    expect(pending.text).toBe(
      `<?xml version="1.0" encoding="UTF-8"?>\n<doc lang="en" func="soft.edit" binary="/billmgr"><elid>${id}</elid><id>${id}</id><licname>new-1</licname><ip>82.156.37.30</ip><lickey/><status>5</status><pricelist>3541</pricelist><period>1</period><createdate>2021-05-01</createdate><expiredate>2021-06-01</expiredate></doc>`,
    );
    sandbox.setNow(at("2021-05-01T10:00:59Z"));
    expect(xmlDoc(await call(sandbox, { func: "soft" })).elem[1].status).toBe("5");
    sandbox.setNow(at("2021-05-01T10:01:01Z"));
    const ready = xmlDoc(await call(sandbox, { func: "soft.edit", elid: id }));
    expect(ready).toMatchObject({ status: "2", remoteip: "82.156.37.30", lickey_change_date: "2021-05-01" });
    expect(ready.lickey).toMatch(/^[0-9a-f]{20}$/);
  });
});
