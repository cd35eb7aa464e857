import { request as httpRequest } from "node:http";
import { XMLValidator } from "fast-xml-parser";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FaultQueue } from "../../sandbox/faults.ts";
import { canonicalIpv6, DEFAULT_QUIRKS, storableText } from "../../sandbox/quirks.ts";
import { escapeXml, numericReferences } from "../../sandbox/render.ts";
import type { SandboxOptions } from "../../sandbox/server.ts";
import { sleep } from "../support/fixtures.ts";
import { type VendorSandbox, vendorSandbox } from "../support/vendor.ts";
import {
  at,
  CREDENTIALS,
  call,
  expectError,
  expectOk,
  jsonDoc,
  listRows,
  ORDER,
  order,
  xmlDoc,
} from "./support.ts";

const ORDER_FIELDS = { ...ORDER, ip: "82.156.37.16", licname: "web-1", period: "1", pricelist: "3541" };
const START = 100_000;

let v: VendorSandbox;
async function open(options: SandboxOptions = {}): Promise<VendorSandbox> {
  await v?.close();
  v = await vendorSandbox({ now: at("2021-05-01"), ...options });
  return v;
}
beforeEach(async () => {
  await open();
});
afterEach(() => v.close());

/** A control request whose refusals are looked at rather than thrown. */
async function control(method: string, path: string, body?: unknown) {
  const response = await fetch(new URL(`/sandbox/${path}`, v.sandbox.url), {
    method,
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const prolong = (elid: string, out = "xml") =>
  call(v.sandbox, { func: "service.prolong", elid, period: "1", sok: "ok", out });

/** Settles to "pending" if the promise has not settled yet. */
function settledYet(promise: Promise<unknown>): Promise<"settled" | "pending"> {
  return Promise.race([
    promise.then(
      () => "settled" as const,
      () => "settled" as const,
    ),
    sleep(0).then(() => "pending" as const),
  ]);
}

describe("act-late: the call lands after the caller gave up", () => {
  it("holds the call, then charges and creates delayMs after the caller's connection closed", async () => {
    await v.fault("soft.order.param", "act-late", 1, 300);
    const sent = Date.now();
    await expect(call(v.sandbox, ORDER_FIELDS, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    const gaveUp = Date.now();
    expect((await v.state()).licences).toEqual([]);
    expect((await v.state()).balanceMinor).toBe(START);

    await expect.poll(async () => (await v.state()).licences.length, { timeout: 3000, interval: 10 }).toBe(1);
    const applied = Date.now();
    // delayMs counted from the give-up, not from arrival (which would have been at +300 ms).
    expect(applied - gaveUp).toBeGreaterThanOrEqual(250);
    expect(applied - sent).toBeGreaterThanOrEqual(450);
    const state = await v.state();
    expect(state.licences).toMatchObject([{ ip: "82.156.37.16", status: "2" }]);
    expect(state.balanceMinor).toBe(START - 600);
    expect(state.chargedMinor).toBe(600);
    expect(state.charges).toHaveLength(1);
    expect(v.sandbox.calls).toMatchObject([{ func: "soft.order.param", fault: "act-late" }]);
  });

  it("applies after delayMs while the caller keeps waiting, still never answers, and applies once", async () => {
    const id = await order(v.sandbox);
    await v.fault("service.prolong", "act-late", 1, 200);
    const caller = new AbortController();
    const sent = Date.now();
    const pending = call(
      v.sandbox,
      { func: "service.prolong", elid: id, period: "1", sok: "ok" },
      { signal: caller.signal },
    );
    pending.catch(() => {});

    await expect
      .poll(() => v.sandbox.state.get(id)?.expiredate, { timeout: 3000, interval: 10 })
      .toBe("2021-07-01");
    expect(Date.now() - sent).toBeGreaterThanOrEqual(190);
    expect((await v.state()).balanceMinor).toBe(START - 1200);
    await sleep(200);
    expect(await settledYet(pending)).toBe("pending");

    // Giving up now must not apply the renewal a second time.
    caller.abort();
    await expect(pending).rejects.toThrow();
    await sleep(400);
    expect(v.sandbox.state.chargedMinor).toBe(1200);
    expect(v.sandbox.state.get(id)?.expiredate).toBe("2021-07-01");
    expect(v.sandbox.callCount("service.prolong")).toBe(1);
  });

  it("is dropped, not applied, when the sandbox closes first", async () => {
    await v.fault("soft.order.param", "act-late", 1, 300);
    await expect(call(v.sandbox, ORDER_FIELDS, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    const closing = Date.now();
    await v.close();
    expect(Date.now() - closing).toBeLessThan(1000);
    await sleep(500);
    expect(v.sandbox.state.list()).toEqual([]);
    expect(v.sandbox.state.balanceMinor).toBe(START);
    expect(v.sandbox.state.chargedMinor).toBe(0);
  });
});

describe("no-expiry: <ok/> without newexpiredate", () => {
  it("renews and charges, but the XML answer carries no newexpiredate", async () => {
    const id = await order(v.sandbox);
    await v.fault("service.prolong", "no-expiry");
    const answer = await prolong(id);
    const doc = expectOk(answer);
    expect(answer.text).not.toContain("newexpiredate");
    expect(doc.doc).toBe("");
    expect(v.sandbox.state.get(id)?.expiredate).toBe("2021-07-01");
    const state = await v.state();
    expect(state.balanceMinor).toBe(START - 1200);
    expect(state.charges.map((c) => c.func)).toEqual(["soft.order.param", "service.prolong"]);
    // Spent: the next renewal answers its date again.
    expect(xmlDoc(await prolong(id)).doc.newexpiredate).toBe("2021-08-01");
  });

  it("works for out=json and strips the field from forms too", async () => {
    const id = await order(v.sandbox);
    await v.fault("service.prolong", "no-expiry", 2);
    const form = jsonDoc(await call(v.sandbox, { func: "service.prolong", elid: id, out: "json" }));
    expect(form).toMatchObject({ elid: { $: id }, expiredate: { $: "2021-06-01" }, period: { $: "1" } });
    expect(form.newexpiredate).toBeUndefined();
    const answer = await prolong(id, "json");
    expect(answer.text).not.toContain("newexpiredate");
    expect(jsonDoc(answer)).toEqual({
      $lang: "en",
      $func: "service.prolong",
      $binary: "/billmgr",
      doc: {},
      ok: {},
    });
    expect(v.sandbox.state.get(id)?.expiredate).toBe("2021-07-01");
    expect(v.sandbox.state.balanceMinor).toBe(START - 1200);
  });
});

describe("throttle and throttle-503", () => {
  it("429 with Retry-After in whole seconds, rounded up, and nothing done", async () => {
    await v.fault("soft.order.param", "throttle", 1, 1500);
    const answer = await call(v.sandbox, ORDER_FIELDS);
    expect(answer.status).toBe(429);
    expect(answer.headers.get("retry-after")).toBe("2");
    expect(answer.contentType).toMatch(/^text\/html/);
    expect(answer.text).toContain("429 Too Many Requests");
    expect(answer.text.length).toBeLessThan(200);
    const state = await v.state();
    expect(state.licences).toEqual([]);
    expect(state.balanceMinor).toBe(START);
    expect(state.chargedMinor).toBe(0);
    expect(v.sandbox.calls).toMatchObject([{ func: "soft.order.param", fault: "throttle" }]);
    await order(v.sandbox);
  });

  it("Retry-After defaults to 1 second, and reads are throttled too", async () => {
    await v.fault("*", "throttle");
    const answer = await call(v.sandbox, { func: "soft" });
    expect(answer.status).toBe(429);
    expect(answer.headers.get("retry-after")).toBe("1");
  });

  it("503 with Retry-After, nothing done", async () => {
    const id = await order(v.sandbox);
    await v.fault("service.prolong", "throttle-503", 2, 3000);
    for (const out of ["xml", "json"]) {
      const answer = await prolong(id, out);
      expect(answer.status).toBe(503);
      expect(answer.headers.get("retry-after")).toBe("3");
      expect(answer.contentType).toMatch(/^text\/html/);
      expect(answer.text).toContain("503");
    }
    expect(v.sandbox.state.get(id)?.expiredate).toBe("2021-06-01");
    expect(v.sandbox.state.balanceMinor).toBe(START - 600);
    expect(v.sandbox.callCount("service.prolong")).toBe(2);
  });
});

interface Trickled {
  status: number;
  body: string;
  /** Arrival time of each body chunk, ms since the request was sent. */
  chunkTimes: number[];
  headersAfterMs: number;
  tookMs: number;
  idleFired: boolean;
  balanceAtHeaders: number;
}

/**
 * GETs a vendor call with a client whose only timeout is a socket idle timeout (a per-chunk
 * timeout), recording when each chunk arrives.
 */
function trickledGet(params: Record<string, string>, idleMs: number): Promise<Trickled> {
  const url = `${v.sandbox.url}?${new URLSearchParams({ authinfo: CREDENTIALS, ...params })}`;
  const sent = Date.now();
  return new Promise((resolve, reject) => {
    let idleFired = false;
    const req = httpRequest(url, (res) => {
      const headersAfterMs = Date.now() - sent;
      const balanceAtHeaders = v.sandbox.state.balanceMinor;
      const chunks: Buffer[] = [];
      const chunkTimes: number[] = [];
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        chunkTimes.push(Date.now() - sent);
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString("utf8"),
          chunkTimes,
          headersAfterMs,
          tookMs: Date.now() - sent,
          idleFired,
          balanceAtHeaders,
        }),
      );
      res.on("error", reject);
    });
    req.setTimeout(idleMs, () => {
      idleFired = true;
      req.destroy(new Error(`no byte for ${idleMs} ms`));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("trickle: the answer arrives a few bytes at a time", () => {
  it("acts first, then sends the normal answer chunkBytes at a time, delayMs apart", async () => {
    const id = await order(v.sandbox);
    await v.fault("service.prolong", "trickle", 1, 40, { chunkBytes: 16 });
    const got = await trickledGet({ func: "service.prolong", elid: id, period: "1", sok: "ok" }, 500);
    expect(got.idleFired).toBe(false);
    expect(got.status).toBe(200);
    expect(xmlDoc(got.body).doc.newexpiredate).toBe("2021-07-01");
    expect(got.balanceAtHeaders).toBe(START - 1200);
    const chunks = Math.ceil(Buffer.byteLength(got.body) / 16);
    expect(chunks).toBeGreaterThanOrEqual(8);
    // Each chunk is its own write, 40 ms apart: most arrive on their own.
    expect(got.chunkTimes.length).toBeGreaterThanOrEqual(chunks / 2);
    expect(got.tookMs).toBeGreaterThanOrEqual((chunks - 1) * 40 * 0.9);
    expect(got.headersAfterMs).toBeLessThan(got.tookMs / 2);
    expect(v.sandbox.state.chargedMinor).toBe(1200);
  });

  it("with the defaults (8 bytes every 200 ms) a short answer takes seconds, yet no 1 s idle timeout fires", async () => {
    await v.fault("soft.checkip", "trickle");
    expect((await v.state()).faults).toEqual([
      { func: "soft.checkip", kind: "trickle", remaining: 1, delayMs: 200, chunkBytes: 8 },
    ]);
    const got = await trickledGet({ func: "soft.checkip", ip: "10.0.0.1", pricelist: "3541" }, 1000);
    expect(got.idleFired).toBe(false);
    expect(got.status).toBe(200);
    expect(xmlDoc(got.body).ok).toBe("");
    expect(Buffer.byteLength(got.body)).toBeGreaterThan(80);
    expect(got.tookMs).toBeGreaterThanOrEqual(1800);
  });

  it("trickles JSON too, and close() cuts a trickle short", async () => {
    await v.fault("soft", "trickle", 1, 100, { chunkBytes: 4 });
    const pending = trickledGet({ func: "soft", out: "json" }, 5000);
    pending.catch(() => {});
    await expect.poll(() => v.sandbox.callCount("soft")).toBe(1);
    await sleep(150);
    const closing = Date.now();
    await v.close();
    expect(Date.now() - closing).toBeLessThan(1000);
    await expect(pending).rejects.toThrow();
  });

  it("refuses a chunk size below 1", async () => {
    expect((await control("POST", "faults", { func: "soft", kind: "trickle", chunkBytes: 0 })).status).toBe(
      400,
    );
    expect(() => new FaultQueue().add({ func: "soft", kind: "trickle", chunkBytes: 1.5 })).toThrow(
      /chunkBytes/,
    );
  });
});

describe("quirks", () => {
  it("defaults: IPs and names normalised as the real vendor does, no paging or key quirks", async () => {
    expect(DEFAULT_QUIRKS).toEqual({
      normaliseIp: true,
      normaliseNames: true,
      pageCap: null,
      omitPageTotal: false,
      keyDelayMs: 0,
      numericReferences: false,
      ignorePageNumber: false,
    });
    expect((await control("GET", "quirks")).body).toEqual({ quirks: DEFAULT_QUIRKS });
    expect((await v.state()).quirks).toEqual(DEFAULT_QUIRKS);
  });

  it("are set by POST /sandbox/quirks (only the named ones), by startSandbox, and shown in the state", async () => {
    expect(await v.quirks({ pageCap: 2 })).toEqual({ ...DEFAULT_QUIRKS, pageCap: 2 });
    expect(await v.quirks({ omitPageTotal: true })).toEqual({
      ...DEFAULT_QUIRKS,
      pageCap: 2,
      omitPageTotal: true,
    });
    expect((await v.state()).quirks).toMatchObject({ pageCap: 2, omitPageTotal: true });
    expect(await v.quirks({ pageCap: null })).toMatchObject({ pageCap: null, omitPageTotal: true });
    await open({ quirks: { normaliseIp: false, keyDelayMs: 5 } });
    expect(await v.quirks()).toEqual({ ...DEFAULT_QUIRKS, normaliseIp: false, keyDelayMs: 5 });
  });

  it("refuses unknown names and bad values as a whole", async () => {
    for (const bad of [
      { pageCap: 0 },
      { pageCap: 2.5 },
      { keyDelayMs: -1 },
      { normaliseIp: "yes" },
      { pageSize: 3 },
      { omitPageTotal: true, pageCap: "3" },
      { numericReferences: 1 },
      { ignorePageNumber: "true" },
    ]) {
      const answer = await control("POST", "quirks", bad);
      expect(answer.status, JSON.stringify(bad)).toBe(400);
      expect(answer.body.error).toMatch(/quirk/);
    }
    expect((await control("POST", "quirks", [1])).status).toBe(400);
    expect(await v.quirks()).toEqual(DEFAULT_QUIRKS);
    await expect(vendorSandbox({ quirks: { pageCap: -1 } })).rejects.toThrow(/pageCap/);
  });

  describe("normaliseIp", () => {
    it("stores and answers IPv6 in RFC 5952 form; another spelling is the same IP", async () => {
      const id = await order(v.sandbox, { ip: "2001:DB8:0:0:0:0:0:1" });
      expect(listRows(await call(v.sandbox, { func: "soft" }))[0].ip).toBe("2001:db8::1");
      expect(xmlDoc(await call(v.sandbox, { func: "soft.edit", elid: id })).ip).toBe("2001:db8::1");
      expect((await v.state()).licences[0]?.ip).toBe("2001:db8::1");
      expectError(await call(v.sandbox, { ...ORDER_FIELDS, ip: "2001:db8::1" }), "exists", "ip");
      expectError(await call(v.sandbox, { ...ORDER_FIELDS, ip: "2001:0DB8::0001" }), "exists", "ip");
      expect((await v.state()).chargedMinor).toBe(600);
      // IPv4 is kept as sent; an edit is stored short as well.
      const v4 = await order(v.sandbox, { ip: "82.156.37.16" });
      expect(v.sandbox.state.get(v4)?.ip).toBe("82.156.37.16");
      expectOk(await call(v.sandbox, { func: "soft.edit", elid: v4, ip: "2A01:04F8:0:0:1::2", sok: "ok" }));
      // Two equal runs of zeros: the first is the one shortened.
      expect(v.sandbox.state.get(v4)?.ip).toBe("2a01:4f8::1:0:0:2");
    });

    it("off: the IP is kept as sent, though another spelling still collides", async () => {
      await v.quirks({ normaliseIp: false });
      await order(v.sandbox, { ip: "2001:DB8:0:0:0:0:0:1" });
      expect(listRows(await call(v.sandbox, { func: "soft" }))[0].ip).toBe("2001:DB8:0:0:0:0:0:1");
      expectError(await call(v.sandbox, { ...ORDER_FIELDS, ip: "2001:db8::1" }), "exists", "ip");
    });

    it("follows RFC 5952 to the letter", () => {
      expect(canonicalIpv6("2001:DB8:0:0:0:0:0:1")).toBe("2001:db8::1");
      expect(canonicalIpv6("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
      expect(canonicalIpv6("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1");
      expect(canonicalIpv6("0:0:0:0:0:0:0:0")).toBe("::");
      expect(canonicalIpv6("::FFFF:C000:0201")).toBe("::ffff:192.0.2.1");
      expect(canonicalIpv6("::ffff:192.0.2.1")).toBe("::ffff:192.0.2.1");
      expect(canonicalIpv6("192.0.2.1")).toBe("192.0.2.1");
    });
  });

  describe("normaliseNames", () => {
    it("replaces U+FFFE, U+FFFF and lone surrogates with U+FFFD in what is stored and answered", async () => {
      const id = await order(v.sandbox, { licname: "a\uFFFEb\uFFFF" });
      const rows = jsonDoc(await call(v.sandbox, { func: "soft", out: "json" })).elem;
      expect(rows[1].licname.$).toBe("a\uFFFDb\uFFFD");
      expect(v.sandbox.state.get(id)?.licname).toBe("a\uFFFDb\uFFFD");
      // A lone surrogate cannot travel in a UTF-8 form, but it can in a JSON control request.
      const seeded = await control("POST", "licences", {
        licname: "x\uD800y",
        ip: "10.0.0.9",
        pricelist: "3541",
      });
      expect(seeded.body.licence.licname).toBe("x\uFFFDy");
      expectOk(await call(v.sandbox, { func: "soft.edit", elid: id, licname: "c\uFFFF", sok: "ok" }));
      expect(v.sandbox.state.get(id)?.licname).toBe("c\uFFFD");
      expect(storableText("ok \u00fc \u{1F600} \uDC00")).toBe("ok \u00fc \u{1F600} \uFFFD");
    });

    it("off: the name is kept as sent (JSON answers carry it unchanged)", async () => {
      await open({ quirks: { normaliseNames: false } });
      await order(v.sandbox, { licname: "a\uFFFEb" });
      const rows = jsonDoc(await call(v.sandbox, { func: "soft", out: "json" })).elem;
      expect(rows[1].licname.$).toBe("a\uFFFEb");
    });
  });

  describe("pageCap and omitPageTotal", () => {
    function seedSeven(): string[] {
      const ids: string[] = [];
      for (let n = 1; n <= 7; n++) {
        ids.push(v.sandbox.state.seed({ licname: `lic-${n}`, ip: `10.0.0.${n}`, pricelist: "3541" }).id);
      }
      return ids;
    }

    it("serves at most pageCap rows whatever p_cnt asks, paging consistently by the capped size", async () => {
      const ids = seedSeven();
      await v.quirks({ pageCap: 3 });
      const seen: string[] = [];
      for (const p_num of ["1", "2", "3"]) {
        const answer = await call(v.sandbox, { func: "soft", p_cnt: "5", p_num });
        expect(xmlDoc(answer)).toMatchObject({ p_cnt: "3", p_num, p_elems: "7" });
        seen.push(...listRows(answer).map((row) => String(row.id)));
      }
      expect(seen).toEqual(ids);
      expect(listRows(await call(v.sandbox, { func: "soft", p_cnt: "5", p_num: "4" }))).toEqual([]);
      // Asking for fewer than the cap still gets fewer.
      expect(listRows(await call(v.sandbox, { func: "soft", p_cnt: "2" }))).toHaveLength(2);
      // Without p_cnt the default page (100) is capped as well.
      expect(listRows(await call(v.sandbox, { func: "soft" }))).toHaveLength(3);
    });

    it("omitPageTotal: no p_elems and no p_cnt, so only a short or empty page ends the list", async () => {
      const ids = seedSeven();
      await v.quirks({ pageCap: 2, omitPageTotal: true });
      const seen: string[] = [];
      for (let page = 1; page < 10; page++) {
        const answer = await call(v.sandbox, { func: "soft", p_cnt: "100", p_num: String(page) });
        const doc = xmlDoc(answer);
        expect(doc.p_elems).toBeUndefined();
        expect(doc.p_cnt).toBeUndefined();
        expect(doc.p_num).toBe(String(page));
        const rows = listRows(answer);
        if (rows.length === 0) break;
        expect(rows.length).toBeLessThanOrEqual(2);
        seen.push(...rows.map((row) => String(row.id)));
      }
      expect(seen).toEqual(ids);
      const json = jsonDoc(await call(v.sandbox, { func: "soft", out: "json" }));
      expect(Object.keys(json)).not.toContain("p_elems");
      expect(json.elem).toHaveLength(3);
    });
  });

  describe("numericReferences", () => {
    const NAME = "Тест-сервер 😀";

    it("off by default: XML answers carry non-ASCII as UTF-8", async () => {
      await order(v.sandbox, { licname: NAME });
      const answer = await call(v.sandbox, { func: "soft" });
      expect(answer.text).toContain(NAME);
      expect(listRows(answer)[0].licname).toBe(NAME);
    });

    it("on: every non-ASCII character of an XML answer is a reference, decimal and hex in turn", async () => {
      const id = await order(v.sandbox, { licname: NAME });
      expect(await v.quirks({ numericReferences: true })).toMatchObject({ numericReferences: true });
      for (const params of [{ func: "soft" }, { func: "soft.edit", elid: id }]) {
        const answer = await call(v.sandbox, params);
        expect(answer.text).not.toMatch(/\P{ASCII}/u);
        // Т decimal, е hex, … and the emoji (the 11th non-ASCII character) decimal, as a whole code point.
        expect(answer.text).toContain(
          "&#1058;&#x435;&#1089;&#x442;-&#1089;&#x435;&#1088;&#x432;&#1077;&#x440; &#128512;",
        );
        expect(XMLValidator.validate(answer.text)).toBe(true);
      }
      // The product's own parser reads the name back whole.
      expect((await v.client().list()).rows.map((row) => row.name)).toEqual([NAME]);
      // JSON has no references: the same list as UTF-8.
      expect(jsonDoc(await call(v.sandbox, { func: "soft", out: "json" })).elem[1].licname.$).toBe(NAME);
    });

    it("escapes markup first, so a reference-like name stays text; astral characters take both forms", () => {
      expect(numericReferences("Тест 😀😀")).toBe("&#1058;&#x435;&#1089;&#x442; &#128512;&#x1F600;");
      expect(escapeXml("&#1058; Т", { numericReferences: true })).toBe("&amp;#1058; &#1058;");
      expect(escapeXml("ascii only", { numericReferences: true })).toBe("ascii only");
    });

    it("can be set by startSandbox", async () => {
      await open({ quirks: { numericReferences: true } });
      await order(v.sandbox, { licname: "ü" });
      expect((await call(v.sandbox, { func: "soft" })).text).toContain("<licname>&#252;</licname>");
    });
  });

  describe("ignorePageNumber", () => {
    it("serves the first page whatever p_num asks, and still refuses a malformed p_num", async () => {
      for (let n = 1; n <= 3; n++)
        v.sandbox.state.seed({ licname: `lic-${n}`, ip: `10.0.0.${n}`, pricelist: "3541" });
      const page2 = async () =>
        listRows(await call(v.sandbox, { func: "soft", p_cnt: "2", p_num: "2" })).map((row) => row.licname);
      expect(await page2()).toEqual(["lic-3"]);
      await v.quirks({ ignorePageNumber: true });
      expect(await page2()).toEqual(["lic-1", "lic-2"]);
      expect(xmlDoc(await call(v.sandbox, { func: "soft", p_cnt: "2", p_num: "2" }))).toMatchObject({
        p_num: "1",
        p_elems: "3",
      });
      expectError(await call(v.sandbox, { func: "soft", p_num: "x" }), "value", "p_num");
    });
  });

  describe("keyDelayMs", () => {
    it("an order is active at once, its key empty until keyDelayMs of sandbox clock have passed", async () => {
      await v.quirks({ keyDelayMs: 5 * 60_000 });
      const id = await order(v.sandbox);
      const form = xmlDoc(await call(v.sandbox, { func: "soft.edit", elid: id }));
      expect(form.status).toBe("2");
      expect(form.lickey).toBe("");
      expect(form.lickey_change_date).toBeUndefined();
      expect(listRows(await call(v.sandbox, { func: "soft" }))[0].status).toBe("2");
      expectError(
        await call(v.sandbox, { func: "soft.edit", elid: id, clicked_button: "newkey", sok: "ok" }),
        "access",
        "soft.edit",
      );
      await v.clock("2021-05-01T00:04:00Z");
      expect(xmlDoc(await call(v.sandbox, { func: "soft.edit", elid: id })).lickey).toBe("");
      await v.clock("2021-05-01T00:06:00Z");
      const later = xmlDoc(await call(v.sandbox, { func: "soft.edit", elid: id }));
      expect(later.lickey).toMatch(/^[0-9a-f]{20}$/);
      expect(later).toMatchObject({
        status: "2",
        lickey_change_date: "2021-05-01",
        remoteip: "82.156.37.16",
      });
    });

    it("differs from provisionMs, which keeps an order processing (status 5)", async () => {
      await open({ provisionMs: 60_000 });
      const id = await order(v.sandbox);
      expect(xmlDoc(await call(v.sandbox, { func: "soft.edit", elid: id })).status).toBe("5");
    });
  });
});

describe("hold: a call waits until the test releases it", () => {
  const seedThree = () => {
    for (let n = 1; n <= 3; n++)
      v.sandbox.state.seed({ licname: `lic-${n}`, ip: `10.0.0.${n}`, pricelist: "3541" });
  };
  const page = (p_num: string) => call(v.sandbox, { func: "soft", p_cnt: "2", p_num });

  it("skip lets the first calls by; the held one answers only once released, from the book as it is then", async () => {
    seedThree();
    await v.fault("soft", "hold", 1, undefined, { skip: 1 });
    expect((await v.state()).faults).toEqual([
      { func: "soft", kind: "hold", remaining: 1, delayMs: 1000, skip: 1 },
    ]);
    expect(listRows(await page("1")).map((row) => row.licname)).toEqual(["lic-1", "lic-2"]);
    expect((await v.state()).faults).toEqual([{ func: "soft", kind: "hold", remaining: 1, delayMs: 1000 }]);
    const held = page("2");
    await expect.poll(() => v.sandbox.callCount("soft")).toBe(2);
    expect(await settledYet(held)).toBe("pending");
    // The first licence purged while page 2 waits: the pages shift under the reader.
    const first = v.sandbox.state.list()[0]?.id ?? "";
    expect((await control("DELETE", `licences/${first}`)).status).toBe(204);
    expect(await v.release()).toBe(1);
    const answer = await held;
    expect(listRows(answer)).toEqual([]);
    expect(xmlDoc(answer).p_elems).toBe("2");
    expect(v.sandbox.calls.map((c) => c.fault)).toEqual([undefined, "hold"]);
    expect(await v.release()).toBe(0);
  });

  it("a held money call acts only when released; close() drops it unapplied", async () => {
    await v.fault("soft.order.param", "hold");
    const held = call(v.sandbox, ORDER_FIELDS);
    await expect.poll(() => v.sandbox.callCount("soft.order.param")).toBe(1);
    expect(v.sandbox.state.chargedMinor).toBe(0);
    expect(v.sandbox.release()).toBe(1);
    expectOk(await held);
    expect(v.sandbox.state.chargedMinor).toBe(600);

    await v.fault("soft.order.param", "hold");
    const dropped = call(v.sandbox, { ...ORDER_FIELDS, ip: "10.0.0.9" });
    dropped.catch(() => {});
    await expect.poll(() => v.sandbox.callCount("soft.order.param")).toBe(2);
    await v.close();
    await expect(dropped).rejects.toThrow();
    expect(v.sandbox.state.chargedMinor).toBe(600);
    expect(v.sandbox.state.list()).toHaveLength(1);
  });

  it("refuses a negative or fractional skip", async () => {
    expect((await control("POST", "faults", { func: "soft", kind: "hold", skip: -1 })).status).toBe(400);
    expect(() => new FaultQueue().add({ func: "soft", kind: "hold", skip: 0.5 })).toThrow(/skip/);
  });
});

describe("POST /sandbox/licences/:id/rekey", () => {
  it("gives the licence a new key and change date, charges nothing and makes no vendor call", async () => {
    const id = await order(v.sandbox);
    const before = v.sandbox.state.get(id)?.key;
    expect(before).toMatch(/^[0-9a-f]{20}$/);
    await v.clock("2021-05-10");
    const licence = await v.rekey(id);
    expect(v.sandbox.calls).toHaveLength(1);
    expect(licence).toMatchObject({ id, lickey_change_date: "2021-05-10" });
    expect(licence.key).toMatch(/^[0-9a-f]{20}$/);
    expect(licence.key).not.toBe(before);
    expect(xmlDoc(await call(v.sandbox, { func: "soft.edit", elid: id })).lickey).toBe(licence.key);
    const state = await v.state();
    expect(state.balanceMinor).toBe(START - 600);
    expect(state.chargedMinor).toBe(600);
  });

  it("404 for an unknown or deleted licence, 409 before it has a key", async () => {
    expect((await control("POST", "licences/999/rekey")).status).toBe(404);
    const gone = await order(v.sandbox);
    expectOk(await call(v.sandbox, { func: "soft.delete", elid: gone }));
    expect((await control("POST", `licences/${gone}/rekey`)).status).toBe(404);
    await v.quirks({ keyDelayMs: 60_000 });
    const waiting = await order(v.sandbox, { ip: "10.0.0.2" });
    const refused = await control("POST", `licences/${waiting}/rekey`);
    expect(refused.status).toBe(409);
    expect(v.sandbox.state.get(waiting)?.key).toBe("");
    expect((await control("GET", `licences/${waiting}/rekey`)).status).toBe(405);
  });
});

describe("money is countable exactly", () => {
  it("the state shows the balance, a running total and every charge", async () => {
    const id = await order(v.sandbox);
    expectOk(await prolong(id));
    await v.fault("soft.order.param", "act-then-drop");
    await expect(call(v.sandbox, { ...ORDER_FIELDS, ip: "10.0.0.2", pricelist: "4601" })).rejects.toThrow();
    await v.setBalance(100);
    expectError(await call(v.sandbox, { ...ORDER_FIELDS, ip: "10.0.0.3" }), "balance", "account");
    const state = await v.state();
    expect(state.balanceMinor).toBe(100);
    expect(state.chargedMinor).toBe(600 + 600 + 1700);
    expect(state.charges).toEqual([
      { func: "soft.order.param", elid: id, amountMinor: 600, at: expect.stringMatching(/^2021-05-01T/) },
      { func: "service.prolong", elid: id, amountMinor: 600, at: expect.stringMatching(/^2021-05-01T/) },
      {
        func: "soft.order.param",
        elid: "2512172",
        amountMinor: 1700,
        at: expect.stringMatching(/^2021-05-01T/),
      },
    ]);
    expect(state.charges.reduce((sum, charge) => sum + charge.amountMinor, 0)).toBe(state.chargedMinor);
  });
});
