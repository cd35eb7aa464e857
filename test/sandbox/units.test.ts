import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { Account } from "../../sandbox/auth.ts";
import { readSandboxConfig } from "../../sandbox/config.ts";
import { formatMinor } from "../../sandbox/pricing.ts";
import { DEFAULT_PRODUCTS, priceOf } from "../../sandbox/products.ts";
import { el, errorNode, escapeXml, parent, renderJson, renderXml } from "../../sandbox/render.ts";
import { SandboxState } from "../../sandbox/state.ts";
import { sleep } from "../support/fixtures.ts";
import { findSecret } from "../support/secrets.ts";
import { CREDENTIALS, fixture, xmlDoc } from "./support.ts";

describe("render", () => {
  it("escapes the five XML characters and replaces characters XML cannot carry", () => {
    expect(escapeXml(`a&b<c>d"e'f`)).toBe("a&amp;b&lt;c&gt;d&quot;e&apos;f");
    expect(escapeXml("bell\u0007 ok\ttab \ud800 😀")).toBe("bell\ufffd ok\ttab \ufffd 😀");
    const xml = renderXml({ func: 'x"&', children: [el("v", "\u0000<")] });
    xmlDoc(xml);
    expect(xml).toContain('func="x&quot;&amp;"');
  });

  it("writes the error element exactly in the fixtures' shape", () => {
    const xml = renderXml({
      func: "soft.order.param",
      children: [errorNode("exists", "ip", "82.156.37.16", "A license for this IP address already exists")],
    });
    expect(xml).toBe(fixture("error-exists-ip.xml").trim());
  });

  it("writes JSON with $-attributes, $-text, repeated names as arrays and elem always as one", () => {
    const json = JSON.parse(
      renderJson({
        func: "f",
        children: [el("elem"), parent("doc", [el("a", "1"), el("a", "2")]), el("e", "", { k: "v" })],
      }),
    );
    expect(json).toEqual({
      doc: {
        $lang: "en",
        $func: "f",
        $binary: "/billmgr",
        elem: [{}],
        doc: { a: [{ $: "1" }, { $: "2" }] },
        e: { $k: "v" },
      },
    });
  });
});

describe("state", () => {
  it("prices Business with nodes and sells 1, 3, 6 and 12 months", () => {
    const business = DEFAULT_PRODUCTS.find((p) => p.pricelist === "4601");
    if (!business) throw new Error("no business");
    expect([1, 3, 6, 12].map((period) => priceOf(business, period, 1))).toEqual([1700, 5100, 10200, 17000]);
    expect(priceOf(business, 2, 1)).toBeUndefined();
  });

  it("formats minor units", () => {
    expect([0, 5, 100_000, 12_345, -250].map(formatMinor)).toEqual([
      "0.00",
      "0.05",
      "1000.00",
      "123.45",
      "-2.50",
    ]);
  });

  it("numbers licences from 2512171 and keys them with 20 lowercase hex characters", () => {
    const state = new SandboxState({ now: new Date("2021-05-01T00:00:00Z") });
    const first = state.order({ ip: "10.0.0.1", licname: "a", pricelist: "3541", period: "1" });
    const second = state.order({ ip: "10.0.0.2", licname: "b", pricelist: "3541", period: "1" });
    expect([first.id, second.id]).toEqual(["2512171", "2512172"]);
    expect(first.key).toMatch(/^[0-9a-f]{20}$/);
    expect(first.key).not.toBe(second.key);
  });

  it("runs its clock on from the given start", async () => {
    const state = new SandboxState({ now: new Date("2021-05-01T00:00:00Z") });
    const t0 = state.now().getTime();
    await sleep(20);
    expect(state.now().getTime() - t0).toBeGreaterThanOrEqual(15);
    expect(state.today()).toBe("2021-05-01");
  });
});

describe("credentials", () => {
  it("keep no readable password in the account object", () => {
    const account = new Account(CREDENTIALS);
    expect(
      findSecret(`${inspect(account, { showHidden: true, depth: 5 })}${JSON.stringify(account)}`),
    ).toEqual([]);
    expect(
      account.verify(CREDENTIALS.split(":")[0] ?? "", CREDENTIALS.slice(CREDENTIALS.indexOf(":") + 1)),
    ).toBe(true);
    expect(() => new Account("nopassword")).toThrow();
    expect(() => new Account(":x")).toThrow();
  });
});

describe("npm run sandbox configuration", () => {
  it("has defaults", () => {
    expect(readSandboxConfig({})).toEqual({
      ok: true,
      config: { port: 8089, host: "127.0.0.1", credentials: "reseller:sandbox-secret", user: "reseller" },
    });
  });

  it("reads port, credentials, NOW and a balance in major units", () => {
    const result = readSandboxConfig({
      SANDBOX_PORT: "0",
      SANDBOX_CREDENTIALS: CREDENTIALS,
      NOW: "2021-05-01",
      SANDBOX_BALANCE: "250.5",
    });
    expect(result).toMatchObject({
      ok: true,
      config: { port: 0, user: "reseller", now: new Date("2021-05-01T00:00:00Z"), balanceMinor: 25_050 },
    });
  });

  it("explains bad values without repeating the credentials", () => {
    const secretish = `${CREDENTIALS.replace(":", "")}`;
    const result = readSandboxConfig({
      SANDBOX_PORT: "99999",
      SANDBOX_CREDENTIALS: secretish,
      NOW: "someday",
      SANDBOX_BALANCE: "-1",
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(4);
    expect(result.errors.join("\n")).not.toContain(secretish);
    expect(result.errors.join("\n")).toMatch(/SANDBOX_PORT.*SANDBOX_CREDENTIALS.*NOW.*SANDBOX_BALANCE/s);
  });
});
