import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Sandbox } from "../../sandbox/server.ts";
import {
  at,
  CREDENTIALS,
  call,
  expectError,
  expectOk,
  fixture,
  type Method,
  ORDER,
  order,
  start,
  xmlDoc,
} from "./support.ts";

/** The seed document's example calls, each sent as a GET query and as a POST form. */
describe.each<Method>(["GET", "POST"])("seed example calls over %s", (method) => {
  let sandbox: Sandbox;
  beforeEach(async () => {
    sandbox = await start({ now: at("2021-05-01T10:00:00Z") });
  });
  afterEach(() => sandbox.close());

  it("orders a licence: soft.order.param with clicked_button=finish, sok=ok, skipbasket=on", async () => {
    const answer = await call(
      sandbox,
      {
        out: "xml",
        func: "soft.order.param",
        clicked_button: "finish",
        ip: "82.156.37.16",
        licname: "name",
        period: "1",
        pricelist: "4601",
        addon_4602: "1",
        autoprolong: "1",
        sok: "ok",
        skipbasket: "on",
      },
      { method },
    );
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^text\/xml/);
    expect(answer.text.trim()).toBe(fixture("order-ok-id.xml").trim());
    const licence = sandbox.state.get("2512171");
    expect(licence).toMatchObject({
      licname: "name",
      ip: "82.156.37.16",
      pricelist: "4601",
      nodes: 1,
      period: 1,
      autoprolong: "1",
      status: "2",
      createdate: "2021-05-01",
      expiredate: "2021-06-01",
    });
    expect(licence?.key).toMatch(/^[0-9a-f]{20}$/);
  });

  it("answers the new id as <item.id> when configured so", async () => {
    await sandbox.close();
    sandbox = await start({ now: at("2021-05-01"), orderIdShape: "item.id" });
    await order(sandbox, { ip: "82.156.37.15" }, method);
    const answer = await call(
      sandbox,
      { ...ORDER, ip: "82.156.37.16", licname: "b", period: "1", pricelist: "3541" },
      { method },
    );
    expect(answer.text.trim()).toBe(fixture("order-ok-item-id.xml").trim());
  });

  it("renews a licence: service.prolong with sok=ok answers the nested newexpiredate", async () => {
    sandbox.state.seed({
      id: "334673",
      licname: "web-1",
      ip: "82.156.37.16",
      pricelist: "4601",
      expiredate: "2021-06-16",
    });
    const answer = await call(
      sandbox,
      { out: "xml", func: "service.prolong", elid: "334673", period: "1", sok: "ok" },
      { method },
    );
    expect(answer.text.trim()).toBe(fixture("prolong-ok.xml").trim());
    expect(sandbox.state.get("334673")?.expiredate).toBe("2021-07-16");
  });

  it("shows the renewal form without sok and charges nothing", async () => {
    sandbox.state.seed({
      id: "334673",
      licname: "web-1",
      ip: "82.156.37.16",
      pricelist: "4601",
      expiredate: "2021-06-16",
    });
    const before = sandbox.state.balanceMinor;
    const answer = await call(
      sandbox,
      { out: "xml", func: "service.prolong", elid: "334673", period: "1" },
      { method },
    );
    expect(answer.text.trim()).toBe(fixture("prolong-form.xml").trim());
    expect(sandbox.state.balanceMinor).toBe(before);
    expect(sandbox.state.get("334673")?.expiredate).toBe("2021-06-16");
  });

  it("changes name and IP: soft.edit with licname, ip and sok=ok", async () => {
    const id = await order(sandbox, { ip: "82.156.37.16", licname: "old" }, method);
    const answer = await call(
      sandbox,
      { out: "xml", func: "soft.edit", elid: id, licname: "new name", ip: "82.156.37.99", sok: "ok" },
      { method },
    );
    expect(answer.text.trim()).toBe(
      fixture("ok.xml").trim().replace('func="soft.suspend"', 'func="soft.edit"'),
    );
    const form = xmlDoc(await call(sandbox, { func: "soft.edit", elid: id }, { method }));
    expect(form).toMatchObject({ licname: "new name", ip: "82.156.37.99", ip_change_date: "2021-05-01" });
  });

  it("shows the licence form: soft.edit without sok, in the shape of edit-form.xml", async () => {
    sandbox.state.seed({
      id: "334673",
      licname: "web-1",
      ip: "82.156.37.16",
      remoteip: "82.156.37.16",
      key: "b3f1c9a0e2d44f6c8a7e",
      pricelist: "4601",
      period: 1,
      nodes: 2,
      createdate: "2021-03-16",
      expiredate: "2021-06-16",
      ip_change_date: "2021-05-02",
      lickey_change_date: "2021-03-16",
    });
    const answer = await call(sandbox, { func: "soft.edit", elid: "334673", out: "xml" }, { method });
    expect(answer.text.trim()).toBe(fixture("edit-form.xml").trim());
  });

  it("suspends and resumes: soft.suspend and soft.resume", async () => {
    const id = await order(sandbox, {}, method);
    const suspended = await call(sandbox, { out: "xml", func: "soft.suspend", elid: id }, { method });
    expect(suspended.text.trim()).toBe(fixture("ok.xml").trim());
    expect(sandbox.state.get(id)).toMatchObject({ status: "3", suspendedBy: "user" });
    expectOk(await call(sandbox, { out: "xml", func: "soft.resume", elid: id }, { method }));
    expect(sandbox.state.get(id)).toMatchObject({ status: "2", suspendedBy: null });
  });

  it("checks an IP: soft.checkip answers ok when an order would go through", async () => {
    expectOk(
      await call(
        sandbox,
        { out: "xml", func: "soft.checkip", pricelist: "3541", period: "1", ip: "82.145.17.16" },
        { method },
      ),
    );
    // The seed's own example names pricelist 7, which this price list does not sell.
    const seedLiteral = await call(
      sandbox,
      { out: "xml", func: "soft.checkip", pricelist: "7", period: "1", ip: "82.145.17.16" },
      { method },
    );
    expectError(seedLiteral, "value", "pricelist");
    expect(sandbox.state.list()).toEqual([]);
  });

  it("regenerates the key: soft.edit with clicked_button=newkey and sok=ok", async () => {
    const id = await order(sandbox, {}, method);
    const oldKey = sandbox.state.get(id)?.key;
    sandbox.setNow(at("2021-05-03"));
    const answer = await call(
      sandbox,
      { out: "xml", clicked_button: "newkey", elid: id, func: "soft.edit", sok: "ok" },
      { method },
    );
    const doc = expectOk(answer);
    expect(doc.lickey).toMatch(/^[0-9a-f]{20}$/);
    expect(doc.lickey).not.toBe(oldKey);
    expect(answer.text).toMatch(/<lickey>[0-9a-f]{20}<\/lickey><ok\/><\/doc>$/);
    const form = xmlDoc(await call(sandbox, { func: "soft.edit", elid: id }, { method }));
    expect(form).toMatchObject({ lickey: doc.lickey, lickey_change_date: "2021-05-03" });
  });

  it("deletes a licence: soft.delete; the list still shows it with status 4", async () => {
    const id = await order(sandbox, {}, method);
    expectOk(await call(sandbox, { out: "xml", func: "soft.delete", elid: id }, { method }));
    expect(sandbox.state.get(id)?.status).toBe("4");
    expectError(await call(sandbox, { func: "soft.edit", elid: id }, { method }), "missed", "elid");
    const list = xmlDoc(await call(sandbox, { func: "soft" }, { method }));
    expect(list.elem[1]).toMatchObject({ id, status: "4" });
  });
});

describe("request forms", () => {
  let sandbox: Sandbox;
  beforeEach(async () => {
    sandbox = await start({ now: at("2021-05-01") });
  });
  afterEach(() => sandbox.close());

  it("merges a POST body with the query string", async () => {
    const response = await fetch(`${sandbox.url}?func=soft.checkip&out=xml`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded; charset=UTF-8" },
      body: new URLSearchParams({ authinfo: CREDENTIALS, ip: "10.0.0.1", pricelist: "3541" }),
    });
    const text = await response.text();
    expect(xmlDoc(text).ok).toBe("");
    expect(sandbox.calls.at(-1)).toMatchObject({
      func: "soft.checkip",
      method: "POST",
      params: { ip: "10.0.0.1", out: "xml" },
    });
  });

  it("refuses other methods and paths", async () => {
    expect((await fetch(sandbox.url, { method: "PUT" })).status).toBe(405);
    expect((await fetch(new URL("/elsewhere", sandbox.url))).status).toBe(404);
  });

  it("defaults to XML when out is absent", async () => {
    const answer = await call(sandbox, { func: "subaccount" });
    expect(answer.contentType).toMatch(/^text\/xml/);
    expect(
      answer.text.startsWith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<doc lang="en" func="subaccount" binary="/billmgr">',
      ),
    ).toBe(true);
    expect(xmlDoc(answer).elem[0]).toEqual({ id: "1", balance: "1000.00", currency: "EUR" });
  });
});
