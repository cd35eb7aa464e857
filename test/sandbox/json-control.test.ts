import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Sandbox } from "../../sandbox/server.ts";
import { findSecret } from "../support/secrets.ts";
import { at, CREDENTIALS, call, fixture, jsonDoc, ORDER, order, start } from "./support.ts";

/** The keys of a JSON document all the way down, values left out: the shape. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]));
  }
  return typeof value;
}

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await start({ now: at("2021-05-01") });
});
afterEach(() => sandbox.close());

describe("out=json", () => {
  it("lists like list.json: $-prefixed attributes, text under $, elem always an array", async () => {
    sandbox.state.seed({
      id: "334673",
      licname: "web-1",
      ip: "82.156.37.16",
      pricelist: "4601",
      expiredate: "2021-06-16",
    });
    const answer = await call(sandbox, { func: "soft", out: "json" });
    expect(answer.contentType).toMatch(/^application\/json/);
    const doc = jsonDoc(answer);
    const expected = jsonDoc(fixture("list.json"));
    // The sandbox also lists createdate, as list.xml does.
    const { createdate, ...row } = doc.elem[1];
    expect(createdate).toEqual({ $: "2021-05-01" });
    expect(row).toEqual(expected.elem[1]);
    expect({ ...doc, elem: [doc.elem[0], row] }).toEqual(expected);
    expect(shape({ ...doc, elem: [doc.elem[0], row] })).toEqual(shape(expected));
  });

  it("keeps elem an array with only the empty entry", async () => {
    expect(jsonDoc(await call(sandbox, { func: "soft", out: "json" })).elem).toEqual([{}]);
  });

  it("reports errors like error.json: doc.error.$type, $object, msg.$ and the params", async () => {
    const answer = await call(sandbox, {
      func: "soft.checkip",
      ip: "999.1.1.1",
      pricelist: "3541",
      period: "1",
      out: "json",
    });
    const doc = jsonDoc(answer);
    const expected = jsonDoc(fixture("error.json"));
    expect(doc.error.$type).toBe("value");
    expect(doc.error.$object).toBe("ip");
    expect(doc.error.msg.$).toBe(expected.error.msg.$);
    expect(doc.error.param).toEqual(expected.error.param);
    const { detail: _detail, ...expectedError } = expected.error;
    expect(doc.error).toEqual(expectedError);
  });

  it("answers an order, a renewal, a new key and the balance", async () => {
    const ordered = jsonDoc(
      await call(sandbox, {
        ...ORDER,
        out: "json",
        ip: "10.0.0.1",
        licname: "a",
        pricelist: "3541",
        period: "1",
      }),
    );
    expect(ordered).toEqual({
      $lang: "en",
      $func: "soft.order.param",
      $binary: "/billmgr",
      ok: {},
      id: { $: "2512171" },
    });
    const renewed = jsonDoc(
      await call(sandbox, { func: "service.prolong", elid: "2512171", period: "1", sok: "ok", out: "json" }),
    );
    expect(renewed.doc).toEqual({ newexpiredate: { $: "2021-07-01" } });
    expect(renewed.ok).toEqual({});
    const rekeyed = jsonDoc(
      await call(sandbox, {
        func: "soft.edit",
        elid: "2512171",
        clicked_button: "newkey",
        sok: "ok",
        out: "json",
      }),
    );
    expect(rekeyed.lickey.$).toMatch(/^[0-9a-f]{20}$/);
    const dashboard = jsonDoc(await call(sandbox, { func: "dashboard.info", out: "json" }));
    expect(shape(dashboard.elem)).toEqual(shape(jsonDoc(fixture("balance-dashboard.json")).elem));
    expect(dashboard.elem[0].balance.$).toBe("988.00 EUR");
  });

  it("writes an empty key as an empty object while a licence is processing", async () => {
    await sandbox.close();
    sandbox = await start({ now: at("2021-05-01"), provisionMs: 1_000 });
    const id = await order(sandbox);
    const form = jsonDoc(await call(sandbox, { func: "soft.edit", elid: id, out: "json" }));
    expect(form.lickey).toEqual({});
    expect(form.status).toEqual({ $: "5" });
  });
});

describe("the control endpoint", () => {
  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(new URL(`/sandbox/${path}`, sandbox.url), {
      method,
      ...(body === undefined
        ? {}
        : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  it("shows the state: licences, balance and the clock", async () => {
    await order(sandbox);
    const { status, body } = await control("GET", "state");
    expect(status).toBe(200);
    expect(body).toMatchObject({
      today: "2021-05-01",
      balanceMinor: 99_400,
      balance: "994.00 EUR",
      currency: "EUR",
      licences: [{ id: "2512171", status: "2", expiredate: "2021-06-01" }],
    });
  });

  it("moves the clock with a date or a date-time", async () => {
    expect((await control("POST", "clock", { now: "2021-06-01" })).body.today).toBe("2021-06-01");
    expect(sandbox.state.now().toISOString().startsWith("2021-06-01T00:00")).toBe(true);
    expect((await control("POST", "clock", { now: "2021-06-02T03:04:05Z" })).body.now).toMatch(
      /^2021-06-02T03:04:0/,
    );
    expect((await control("POST", "clock", { now: "soon" })).status).toBe(400);
  });

  it("adds, lists and clears faults", async () => {
    expect((await control("POST", "faults", { func: "soft", kind: "http500", count: 2 })).status).toBe(201);
    expect((await control("GET", "faults")).body.faults).toEqual([
      { func: "soft", kind: "http500", remaining: 2, delayMs: 1000 },
    ]);
    expect((await call(sandbox, { func: "soft" })).status).toBe(500);
    expect((await control("DELETE", "faults")).status).toBe(204);
    expect((await call(sandbox, { func: "soft" })).status).toBe(200);
    expect((await control("POST", "faults", { func: "soft", kind: "meltdown" })).status).toBe(400);
    expect((await control("POST", "faults", { kind: "drop" })).status).toBe(400);
  });

  it("lists and clears calls", async () => {
    await call(sandbox, { func: "soft", p_cnt: "5" });
    expect((await control("GET", "calls")).body.calls).toMatchObject([
      { func: "soft", method: "GET", params: { func: "soft", p_cnt: "5" } },
    ]);
    expect((await control("DELETE", "calls")).status).toBe(204);
    expect(sandbox.calls).toEqual([]);
  });

  it("seeds licences without charging, and refuses bad ones", async () => {
    const seeded = await control("POST", "licences", {
      id: "334673",
      name: "web-1",
      ip: "82.156.37.16",
      pricelist: "4601",
      nodes: 2,
      period: 12,
      status: "3",
      expiredate: "2021-06-16",
    });
    expect(seeded.status).toBe(201);
    expect(seeded.body.licence).toMatchObject({ id: "334673", nodes: 2, status: "3", suspendedBy: "user" });
    expect(sandbox.state.balanceMinor).toBe(100_000);
    expect(
      (await control("POST", "licences", { licname: "x", ip: "82.156.37.16", pricelist: "3541" })).status,
    ).toBe(409);
    expect((await control("POST", "licences", { licname: "x", ip: "nope", pricelist: "3541" })).status).toBe(
      400,
    );
    expect((await control("POST", "licences", { licname: "x" })).status).toBe(400);
    // Orders keep numbering from 2512171, and after the highest id seeded above that.
    expect(await order(sandbox, { ip: "10.9.9.9" })).toBe("2512171");
    expect(
      (await control("POST", "licences", { id: "2600000", licname: "y", ip: "10.9.9.8", pricelist: "3541" }))
        .status,
    ).toBe(201);
    expect(await order(sandbox, { ip: "10.9.9.7" })).toBe("2600001");
  });

  it("removes licences and sets the balance", async () => {
    await order(sandbox);
    expect((await control("DELETE", "licences/2512171")).status).toBe(204);
    expect((await control("DELETE", "licences/2512171")).status).toBe(404);
    expect((await control("POST", "balance", { minor: 250 })).body).toEqual({ balanceMinor: 250 });
    expect(sandbox.state.balanceMinor).toBe(250);
    expect((await control("POST", "balance", { minor: 1.5 })).status).toBe(400);
  });

  it("answers 404 and 405 for unknown routes and methods, 400 for bad JSON", async () => {
    expect((await control("GET", "nothing")).status).toBe(404);
    expect((await control("PUT", "state")).status).toBe(405);
    const bad = await fetch(new URL("/sandbox/clock", sandbox.url), { method: "POST", body: "{" });
    expect(bad.status).toBe(400);
  });
});

describe("the password", () => {
  it("never appears in the calls log, the state or an answer", async () => {
    const [user, password] = [
      CREDENTIALS.slice(0, CREDENTIALS.indexOf(":")),
      CREDENTIALS.slice(CREDENTIALS.indexOf(":") + 1),
    ];
    const answers: string[] = [];
    answers.push((await call(sandbox, { func: "soft" })).text);
    answers.push((await call(sandbox, { func: "soft" }, { method: "POST" })).text);
    answers.push((await call(sandbox, { func: "soft", authinfo: `${user}:${password}x` })).text);
    answers.push((await call(sandbox, { func: "soft", out: "json", authinfo: `x${user}:${password}` })).text);
    answers.push((await call(sandbox, { func: "auth", authinfo: undefined, username: user, password })).text);
    answers.push(
      (await call(sandbox, { func: "auth", authinfo: undefined, username: user, password: `${password}!` }))
        .text,
    );
    answers.push(
      (await call(sandbox, { ...ORDER, ip: "10.0.0.1", licname: "a", pricelist: "3541", period: "1" })).text,
    );
    sandbox.faults.add({ func: "*", kind: "malformed" });
    answers.push((await call(sandbox, { func: "soft" })).text);

    expect(sandbox.calls).toHaveLength(8);
    for (const recorded of sandbox.calls) {
      expect(Object.keys(recorded.params)).not.toContain("authinfo");
      expect(Object.keys(recorded.params)).not.toContain("password");
      expect(Object.keys(recorded.params)).not.toContain("auth");
    }
    const calls = await (await fetch(new URL("/sandbox/calls", sandbox.url))).text();
    const state = await (await fetch(new URL("/sandbox/state", sandbox.url))).text();
    for (const text of [JSON.stringify(sandbox.calls), calls, state, ...answers]) {
      expect(findSecret(text)).toEqual([]);
    }
  });
});
