import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Sandbox } from "../../sandbox/server.ts";
import { at, CREDENTIALS, call, expectError, fixture, ORDER, order, start, xmlDoc } from "./support.ts";

const VALID = {
  ip: "82.156.37.16",
  licname: "web-1",
  period: "1",
  pricelist: "4601",
  addon_4602: "1",
  autoprolong: "null",
};

describe("vendor errors", () => {
  let sandbox: Sandbox;
  beforeEach(async () => {
    sandbox = await start({ now: at("2021-05-01") });
  });
  afterEach(() => sandbox.close());

  describe("auth", () => {
    const user = CREDENTIALS.slice(0, CREDENTIALS.indexOf(":"));
    it.each([
      ["no credentials", { authinfo: undefined }],
      ["a wrong password", { authinfo: `${user}:wrong` }],
      ["a wrong user", { authinfo: `someone${CREDENTIALS.slice(user.length)}` }],
      ["no colon", { authinfo: user }],
      ["an unknown session", { auth: "0123456789abcdef" }],
    ])("refuses %s with auth/badpassword and HTTP 200", async (_name, credentials) => {
      const answer = await call(sandbox, { func: "soft", ...credentials });
      const message = expectError(answer, "auth", "badpassword");
      expect(message).toBe("Invalid username or password");
      const error = xmlDoc(answer).error;
      expect(error.param).toEqual([
        { "#text": "badpassword", "@_name": "object", "@_type": "msg" },
        { "@_name": "value" },
      ]);
    });

    it("splits authinfo at the first colon, so passwords may contain colons", async () => {
      await sandbox.close();
      sandbox = await start({ credentials: "user:pa:ss" });
      expect(xmlDoc(await call(sandbox, { func: "soft", authinfo: "user:pa:ss" })).error).toBeUndefined();
      expectError(await call(sandbox, { func: "soft", authinfo: "user:pa" }), "auth", "badpassword");
    });

    it("acts on nothing when the credentials are wrong", async () => {
      await call(sandbox, { ...ORDER, ...VALID, authinfo: "reseller:nope" });
      expect(sandbox.state.list()).toEqual([]);
      expect(sandbox.state.balanceMinor).toBe(100_000);
    });
  });

  describe("value", () => {
    it.each([
      ["ip", { ip: "999.1.1.1" }],
      ["ip", { ip: "" }],
      ["ip", { ip: "fe80::1%eth0" }],
      ["ip", { ip: undefined }],
      ["licname", { licname: "" }],
      ["licname", { licname: "   " }],
      ["licname", { licname: "x".repeat(65) }],
      ["licname", { licname: "tab\there" }],
      ["licname", { licname: undefined }],
      ["period", { period: "2" }],
      ["period", { period: "one" }],
      ["period", { period: undefined }],
      ["pricelist", { pricelist: "7" }],
      ["pricelist", { pricelist: undefined }],
      ["addon_4602", { addon_4602: "0" }],
      ["addon_4602", { addon_4602: "-1" }],
      ["addon_4602", { addon_4602: "1.5" }],
      ["autoprolong", { autoprolong: "6" }],
      ["addon_9999", { addon_9999: "1" }],
    ])("refuses an order with a bad %s (%j)", async (object, fields) => {
      const answer = await call(sandbox, { ...ORDER, ...VALID, ...fields });
      expectError(answer, "value", object);
      expect(sandbox.state.list()).toEqual([]);
      expect(sandbox.state.balanceMinor).toBe(100_000);
    });

    it("accepts the edges: 64 characters, IPv6, 3 and 6 months, many nodes", async () => {
      await order(sandbox, {
        ...VALID,
        licname: "ü".repeat(64),
        ip: "2001:db8::1",
        period: "3",
        addon_4602: "5",
      });
      await order(sandbox, { ...VALID, ip: "2001:db8::2", period: "6", pricelist: "3541", addon_4602: "" });
      expect(sandbox.state.list().map((l) => [l.period, l.nodes])).toEqual([
        [3, 5],
        [6, null],
      ]);
    });

    it("rejects addon_4602 on a tariff that has no nodes", async () => {
      expectError(await call(sandbox, { ...ORDER, ...VALID, pricelist: "3541" }), "value", "addon_4602");
    });

    it("echoes the bad value in the error, like error-value-ip.xml", async () => {
      const answer = await call(sandbox, {
        func: "soft.checkip",
        ip: "999.1.1.1",
        pricelist: "3541",
        period: "1",
      });
      const expected = xmlDoc(fixture("error-value-ip.xml")).error;
      const error = xmlDoc(answer).error;
      expect(error["@_type"]).toBe(expected["@_type"]);
      expect(error["@_object"]).toBe(expected["@_object"]);
      expect(error.msg).toBe(expected.msg);
      expect(error.param[1]).toEqual({ "#text": "999.1.1.1", "@_name": "value" });
    });

    it("refuses a malformed elid", async () => {
      expectError(await call(sandbox, { func: "soft.suspend", elid: "12ab" }), "value", "elid");
    });

    it("refuses bad edits", async () => {
      const id = await order(sandbox, { ...VALID });
      expectError(
        await call(sandbox, { func: "soft.edit", elid: id, ip: "1.2.3", sok: "ok" }),
        "value",
        "ip",
      );
      expectError(
        await call(sandbox, { func: "soft.edit", elid: id, licname: "", sok: "ok" }),
        "value",
        "licname",
      );
      expect(sandbox.state.get(id)).toMatchObject({
        ip: VALID.ip,
        licname: VALID.licname,
        ip_change_date: "",
      });
    });

    it("refuses bad paging", async () => {
      expectError(await call(sandbox, { func: "soft", p_cnt: "0" }), "value", "p_cnt");
      expectError(await call(sandbox, { func: "soft", p_num: "x" }), "value", "p_num");
    });
  });

  describe("missed", () => {
    it.each([
      "service.prolong",
      "service.changepricelist",
      "soft.edit",
      "soft.suspend",
      "soft.resume",
      "soft.delete",
    ])("%s on an unknown id is missed/elid", async (func) => {
      const answer = await call(sandbox, { func, elid: "334673", period: "1", sok: "ok" });
      expectError(answer, "missed", "elid");
      const expected = xmlDoc(fixture("error-missed-elid.xml")).error;
      expect(xmlDoc(answer).error.msg).toBe(expected.msg);
    });

    it("a deleted licence is missed for every operation", async () => {
      const id = await order(sandbox, { ...VALID });
      await call(sandbox, { func: "soft.delete", elid: id });
      for (const func of [
        "service.prolong",
        "service.changepricelist",
        "soft.edit",
        "soft.suspend",
        "soft.resume",
        "soft.delete",
      ]) {
        expectError(await call(sandbox, { func, elid: id, period: "1", sok: "ok" }), "missed", "elid");
      }
    });

    it("a call without elid is missed/elid", async () => {
      expectError(await call(sandbox, { func: "soft.suspend" }), "missed", "elid");
    });

    it("an unknown function is missed/func", async () => {
      const answer = await call(sandbox, { func: "soft.frobnicate" });
      expectError(answer, "missed", "func");
      expect(xmlDoc(answer)["@_func"]).toBe("soft.frobnicate");
      expectError(await call(sandbox, {}), "missed", "func");
      expectError(await call(sandbox, { func: "toString" }), "missed", "func");
    });
  });

  describe("exists", () => {
    it("an order on an IP that has a licence is exists/ip, like error-exists-ip.xml", async () => {
      await order(sandbox, { ...VALID });
      const answer = await call(sandbox, { ...ORDER, ...VALID, licname: "second" });
      expect(answer.text.trim()).toBe(fixture("error-exists-ip.xml").trim());
      expect(sandbox.state.list()).toHaveLength(1);
      expect(sandbox.state.balanceMinor).toBe(100_000 - 1700);
    });

    it("checkip and edit see the same conflict; another spelling of an IPv6 address is the same IP", async () => {
      await order(sandbox, { ...VALID, ip: "2001:db8::10" });
      const other = await order(sandbox, { ...VALID, ip: "82.156.37.17" });
      expectError(
        await call(sandbox, { func: "soft.checkip", ip: "2001:DB8:0:0::10", pricelist: "3541", period: "1" }),
        "exists",
        "ip",
      );
      expectError(
        await call(sandbox, { func: "soft.edit", elid: other, ip: "2001:db8::10", sok: "ok" }),
        "exists",
        "ip",
      );
    });

    it("one live licence per IP and generation: an ISPmanager 6 licence shares an ISPmanager 5 one's IP", async () => {
      await order(sandbox, { ...VALID });
      const { addon_4602: _, ...five } = VALID;
      const six = (pricelist: string, extra: Record<string, string> = {}) => ({
        ...five,
        pricelist,
        ...extra,
      });
      const check = (pricelist: string) =>
        call(sandbox, { func: "soft.checkip", ip: VALID.ip, pricelist, period: "1" });
      expect(xmlDoc(await check("55227")).ok).toBe("");
      expectError(await check("3541"), "exists", "ip");
      const pro = await order(sandbox, six("55228", { licname: "v6" }));
      expectError(await check("55227"), "exists", "ip");
      expectError(
        await call(sandbox, { ...ORDER, ...six("55230", { licname: "v6-second", addon_55236: "2" }) }),
        "exists",
        "ip",
      );
      // An edit moves a licence only onto an IP free of its own generation.
      const elsewhere = await order(sandbox, six("55227", { ip: "82.156.37.18" }));
      expectError(
        await call(sandbox, { func: "soft.edit", elid: elsewhere, ip: VALID.ip, sok: "ok" }),
        "exists",
        "ip",
      );
      expect(sandbox.state.list().map((l) => [l.id === pro, l.pricelist, l.status])).toEqual([
        [false, "4601", "2"],
        [true, "55228", "2"],
        [false, "55227", "2"],
      ]);
    });

    it("a deleted licence frees its IP", async () => {
      const id = await order(sandbox, { ...VALID });
      await call(sandbox, { func: "soft.delete", elid: id });
      await order(sandbox, { ...VALID });
      expect(sandbox.state.list().map((l) => l.status)).toEqual(["4", "2"]);
    });

    it("keeping a licence's own IP is no conflict", async () => {
      const id = await order(sandbox, { ...VALID });
      expect(xmlDoc(await call(sandbox, { func: "soft.edit", elid: id, ip: VALID.ip, sok: "ok" })).ok).toBe(
        "",
      );
      expect(sandbox.state.get(id)?.ip_change_date).toBe("");
    });
  });

  describe("access", () => {
    it("refuses renewals once the lifecycle closes them", async () => {
      const id = await order(sandbox, { ...VALID });
      sandbox.setNow(at("2021-06-15"));
      const message = expectError(
        await call(sandbox, { func: "service.prolong", elid: id, period: "1", sok: "ok" }),
        "access",
        "service.prolong",
      );
      expect(message).toMatch(/no longer be renewed/);
    });

    it("refuses to resume a licence that lapsed unpaid, and to re-key or suspend one still processing", async () => {
      await sandbox.close();
      sandbox = await start({ now: at("2021-05-01"), provisionMs: 60_000 });
      const pending = await order(sandbox, { ...VALID });
      expectError(
        await call(sandbox, { func: "soft.edit", elid: pending, clicked_button: "newkey", sok: "ok" }),
        "access",
        "soft.edit",
      );
      expectError(await call(sandbox, { func: "soft.suspend", elid: pending }), "access", "soft.suspend");
      sandbox.setNow(at("2021-06-05"));
      expect(sandbox.state.get(pending)).toMatchObject({ status: "3", suspendedBy: "nonpayment" });
      expectError(await call(sandbox, { func: "soft.resume", elid: pending }), "access", "soft.resume");
    });
  });

  describe("balance", () => {
    it("refuses an order the balance cannot pay, charging nothing", async () => {
      sandbox.state.setBalance(1699);
      const message = expectError(await call(sandbox, { ...ORDER, ...VALID }), "balance", "account");
      expect(message).toBe("Insufficient funds on the account balance");
      expect(sandbox.state.balanceMinor).toBe(1699);
      expect(sandbox.state.list()).toEqual([]);
    });
  });
});
