import { XMLValidator } from "fast-xml-parser";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FaultQueue } from "../../sandbox/faults.ts";
import type { Sandbox } from "../../sandbox/server.ts";
import { at, call, expectOk, fixture, ORDER, order, start, xmlDoc } from "./support.ts";

const ORDER_FIELDS = { ...ORDER, ip: "82.156.37.16", licname: "web-1", period: "1", pricelist: "3541" };

describe("fault injection over HTTP", () => {
  let sandbox: Sandbox;
  beforeEach(async () => {
    sandbox = await start({ now: at("2021-05-01") });
  });
  afterEach(() => sandbox.close());

  it("timeout: holds the socket until the client gives up, acts on nothing, and still closes cleanly", async () => {
    sandbox.faults.add({ func: "soft.order.param", kind: "timeout" });
    const started = Date.now();
    await expect(call(sandbox, ORDER_FIELDS, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(sandbox.state.list()).toEqual([]);
    expect(sandbox.calls).toMatchObject([{ func: "soft.order.param", fault: "timeout" }]);
    const closing = Date.now();
    await sandbox.close();
    expect(Date.now() - closing).toBeLessThan(1000);
  });

  it("timeout: close() destroys a socket the client still holds open", async () => {
    sandbox.faults.add({ func: "soft", kind: "timeout" });
    const pending = call(sandbox, { func: "soft" }, { signal: AbortSignal.timeout(10_000) });
    pending.catch(() => {});
    await expect.poll(() => sandbox.callCount("soft")).toBe(1);
    const closing = Date.now();
    await sandbox.close();
    await expect(pending).rejects.toThrow();
    expect(Date.now() - closing).toBeLessThan(1000);
  });

  it("drop: closes the connection without an answer and without acting", async () => {
    sandbox.faults.add({ func: "soft.order.param", kind: "drop" });
    await expect(call(sandbox, ORDER_FIELDS, { method: "POST" })).rejects.toThrow();
    expect(sandbox.state.list()).toEqual([]);
    expect(sandbox.state.balanceMinor).toBe(100_000);
    expect(sandbox.callCount("soft.order.param")).toBe(1);
    // The queue is spent: the next call is served.
    await order(sandbox);
  });

  it("http500: status 500 with a short HTML body", async () => {
    sandbox.faults.add({ func: "soft", kind: "http500" });
    const answer = await call(sandbox, { func: "soft" });
    expect(answer.status).toBe(500);
    expect(answer.contentType).toMatch(/^text\/html/);
    expect(answer.text).toContain("500 Internal Server Error");
  });

  it("html: status 200 with a proxy's HTML error page", async () => {
    sandbox.faults.add({ func: "*", kind: "html" });
    const answer = await call(sandbox, { ...ORDER_FIELDS });
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^text\/html/);
    expect(answer.text).toBe(fixture("gateway-error.html").replace(/\n?$/, "\n"));
    expect(sandbox.state.list()).toEqual([]);
  });

  it("malformed: status 200 with a cut-off document, in XML or JSON", async () => {
    sandbox.faults.add({ func: "soft", kind: "malformed", count: 2 });
    const xml = await call(sandbox, { func: "soft" });
    expect(xml.status).toBe(200);
    expect(xml.text.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(XMLValidator.validate(xml.text)).not.toBe(true);
    const json = await call(sandbox, { func: "soft", out: "json" });
    expect(json.contentType).toMatch(/^application\/json/);
    expect(() => JSON.parse(json.text)).toThrow();
    expectOk(await call(sandbox, { func: "soft.checkip", ip: "10.0.0.1", pricelist: "3541" }));
  });

  it("slow: answers normally after delayMs", async () => {
    sandbox.faults.add({ func: "soft.order.param", kind: "slow", delayMs: 250 });
    const started = Date.now();
    const id = await order(sandbox);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(sandbox.state.get(id)?.status).toBe("2");
  });

  it("slow: the vendor still acts after the client gave up", async () => {
    sandbox.faults.add({ func: "soft.order.param", kind: "slow", delayMs: 200 });
    await expect(call(sandbox, ORDER_FIELDS, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    expect(sandbox.state.list()).toEqual([]);
    await expect.poll(() => sandbox.state.list().length, { timeout: 2000, interval: 25 }).toBe(1);
    expect(sandbox.state.balanceMinor).toBe(100_000 - 600);
  });

  it("act-then-hang: the order is charged and created although no answer comes", async () => {
    sandbox.faults.add({ func: "soft.order.param", kind: "act-then-hang" });
    await expect(call(sandbox, ORDER_FIELDS, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect(sandbox.state.list()).toMatchObject([{ id: "2512171", ip: "82.156.37.16", status: "2" }]);
    expect(sandbox.state.balanceMinor).toBe(100_000 - 600);
  });

  it("act-then-drop: the renewal is charged although the connection drops", async () => {
    const id = await order(sandbox);
    sandbox.faults.add({ func: "service.prolong", kind: "act-then-drop" });
    await expect(
      call(sandbox, { func: "service.prolong", elid: id, period: "1", sok: "ok" }),
    ).rejects.toThrow();
    expect(sandbox.state.get(id)?.expiredate).toBe("2021-07-01");
    expect(sandbox.state.balanceMinor).toBe(100_000 - 1200);
    expect(sandbox.callCount("service.prolong")).toBe(1);
  });

  it("queues per function, the function's own before '*', and counts down", async () => {
    sandbox.faults.add({ func: "*", kind: "http500", count: 1 });
    sandbox.faults.add({ func: "soft", kind: "html", count: 2 });
    expect((await call(sandbox, { func: "soft" })).contentType).toMatch(/html/);
    expect((await call(sandbox, { func: "soft" })).contentType).toMatch(/html/);
    expect((await call(sandbox, { func: "soft" })).status).toBe(500);
    expect(xmlDoc(await call(sandbox, { func: "soft" })).p_elems).toBe("0");
    expect(sandbox.calls.map((c) => c.fault ?? "-")).toEqual(["html", "html", "http500", "-"]);
  });

  it("faults come before credentials: a proxy answers whoever calls", async () => {
    sandbox.faults.add({ func: "soft", kind: "http500" });
    expect((await call(sandbox, { func: "soft", authinfo: "reseller:wrong" })).status).toBe(500);
  });
});

describe("FaultQueue", () => {
  it("validates what it is given", () => {
    const faults = new FaultQueue();
    expect(() => faults.add({ func: "soft", kind: "nope" as never })).toThrow(/kind/);
    expect(() => faults.add({ func: "", kind: "drop" })).toThrow(/func/);
    expect(() => faults.add({ func: "soft", kind: "drop", count: 0 })).toThrow(/count/);
    expect(() => faults.add({ func: "soft", kind: "slow", delayMs: -1 })).toThrow(/delayMs/);
  });

  it("lists and clears pending faults", () => {
    const faults = new FaultQueue();
    faults.add({ func: "soft", kind: "slow", count: 2, delayMs: 5 });
    expect(faults.take("soft")).toEqual({ kind: "slow", delayMs: 5 });
    expect(faults.pending()).toEqual([{ func: "soft", kind: "slow", remaining: 1, delayMs: 5 }]);
    faults.clear();
    expect(faults.take("soft")).toBeUndefined();
  });
});
