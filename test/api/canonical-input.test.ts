import { describe, expect, it } from "vitest";
import { IpAvailabilityQuery, OrderBody, UpdateBody, validate } from "../../shared/api/requests.ts";
import { canonicalIp, ipProblem } from "../../shared/domain/ip.ts";

/**
 * The vendor stores some values in a normal form other than the one sent (IPv6 short and lower case) and
 * cannot store others at all (noncharacters, lone surrogates become U+FFFD). What the API accepts is
 * therefore already the form the vendor will list, or refused with the reason.
 */

const order = (fields: Record<string, unknown>) => ({
  ip: "82.156.37.10",
  name: "web-1",
  product: "ispmanager5-lite",
  period: 1,
  ...fields,
});

/** The `ip` of an order as validated, or the message it was refused with. */
function orderIp(ip: string): { ip: string } | { error: string | undefined } {
  const result = validate(OrderBody, order({ ip }));
  return result.ok ? { ip: result.value.ip } : { error: result.fields.ip };
}

const CANONICAL: Array<[string, string]> = [
  ["82.156.37.10", "82.156.37.10"],
  ["  82.156.37.10 ", "82.156.37.10"],
  ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
  ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
  ["2001:db8::0:1", "2001:db8::1"],
  // Longest run wins; on a tie, the leftmost.
  ["2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"],
  ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
  ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
  // One zero group is never compressed.
  ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
  ["2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
  ["FE80::ABCD", "fe80::abcd"],
  ["1:0:0:0:0:0:0:0", "1::"],
  ["0:0:0:0:0:0:0:2", "::2"],
  // IPv4-mapped stays dotted, whatever form it came in.
  ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
  ["::FFFF:1.2.3.4", "::ffff:1.2.3.4"],
  ["0:0:0:0:0:ffff:102:304", "::ffff:1.2.3.4"],
  // Other embedded IPv4 forms are plain IPv6.
  ["::1.2.3.4", "::102:304"],
  ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
];

const REFUSED: Array<[string, RegExp]> = [
  ["fe80::1%eth0", /zone id/],
  ["fe80::1%25eth0", /zone id/],
  ["::", /unspecified address \(::\)/],
  ["0:0:0:0:0:0:0:0", /unspecified address/],
  ["0.0.0.0", /unspecified address \(0\.0\.0\.0\)/],
  ["::ffff:0.0.0.0", /unspecified address \(::ffff:0\.0\.0\.0, IPv4-mapped 0\.0\.0\.0\)/],
  ["127.0.0.1", /loopback address \(127\.0\.0\.1\)/],
  ["127.255.1.2", /loopback/],
  ["::1", /loopback address \(::1\)/],
  ["0:0:0:0:0:0:0:1", /loopback/],
  ["::ffff:127.0.0.1", /loopback address \(::ffff:127\.0\.0\.1, IPv4-mapped 127\.0\.0\.1\)/],
  ["::ffff:7f00:1", /loopback/],
  ["01.2.3.4", /must be an IPv4 or IPv6 address/],
  ["1.2.3.04", /must be an IPv4 or IPv6 address/],
  ["1.2.3", /must be an IPv4 or IPv6 address/],
  ["0x1.2.3.4", /must be an IPv4 or IPv6 address/],
  ["[2001:db8::1]", /must be an IPv4 or IPv6 address/],
  ["2001:db8::1::2", /must be an IPv4 or IPv6 address/],
  ["", /must be an IPv4 or IPv6 address/],
];

describe("shared/ip.ts", () => {
  it.each(CANONICAL)("%s is written %s", (text, canonical) => {
    const exact = text.trim();
    expect(ipProblem(exact)).toBeUndefined();
    expect(canonicalIp(exact)).toBe(canonical);
    // The canonical form is a fixed point.
    expect(canonicalIp(canonical)).toBe(canonical);
  });

  it.each(REFUSED)("%s is refused: %s", (text, reason) => {
    expect(ipProblem(text)).toMatch(reason);
    expect(canonicalIp(text)).toBeUndefined();
  });

  it("works on the exact text: callers trim", () => {
    expect(canonicalIp(" 1.2.3.4")).toBeUndefined();
  });

  it("agrees with the WHATWG URL parser on every IPv6 form it compresses the same way", () => {
    for (const [text, canonical] of CANONICAL) {
      if (!text.includes(":") || canonical.includes(".")) continue;
      expect(new URL(`http://[${text.trim()}]/`).hostname).toBe(`[${canonical}]`);
    }
  });
});

describe("IP fields take the canonical form, or are refused with the reason", () => {
  it.each(CANONICAL)("order ip %j becomes %j", (text, canonical) => {
    expect(orderIp(text)).toEqual({ ip: canonical });
  });

  it.each(REFUSED)("order ip %j is refused: %s", (text, reason) => {
    const result = orderIp(text);
    expect(result).toHaveProperty("error");
    expect((result as { error: string }).error).toMatch(reason);
  });

  it("the same on a change and on the availability check", () => {
    expect(validate(UpdateBody, { ip: "2001:DB8:0:0:0:0:0:1" })).toEqual({
      ok: true,
      value: { ip: "2001:db8::1" },
    });
    expect(validate(UpdateBody, { ip: "::1" })).toEqual({
      ok: false,
      fields: { ip: "must not be a loopback address (::1)" },
    });
    const query = validate(
      IpAvailabilityQuery,
      { ip: "2001:0DB8::0001", product: "ispmanager5-lite", period: "1" },
      "query",
    );
    expect(query).toMatchObject({ ok: true, value: { ip: "2001:db8::1" } });
    expect(
      validate(IpAvailabilityQuery, { ip: "fe80::1%eth0", product: "x", period: "1" }, "query"),
    ).toMatchObject({ ok: false, fields: { ip: expect.stringMatching(/^must not carry a zone id/) } });
  });

  it("a zone id is not echoed back", () => {
    const result = orderIp("fe80::1%<script>");
    expect(result).toHaveProperty("error");
    expect(JSON.stringify(result)).not.toContain("script");
  });
});

describe("names the vendor can store as sent", () => {
  const name = (value: string) => {
    const result = validate(OrderBody, order({ name: value }));
    return result.ok ? { name: result.value.name } : { error: result.fields.name };
  };

  it.each([
    ["Tom & Jerry", "Tom & Jerry"],
    ["  padded  ", "padded"],
    ["Ünïcødé ✓", "Ünïcødé ✓"],
    ["emoji 😀 in a pair", "emoji 😀 in a pair"],
    ["private use \uE000", "private use \uE000"],
    ["just below \uFDCF and above \uFDF0", "just below \uFDCF and above \uFDF0"],
  ])("%j is accepted as %j", (value, stored) => {
    expect(name(value)).toEqual({ name: stored });
  });

  it.each([
    ["a\uFFFEb", "U+FFFE"],
    ["a\uFFFFb", "U+FFFF"],
    ["a\uFDD0b", "U+FDD0"],
    ["a\uFDEFb", "U+FDEF"],
    ["a\u{1FFFE}b", "U+1FFFE"],
    ["a\u{10FFFF}b", "U+10FFFF"],
    ["a\uD800b", "a lone surrogate U+D800"],
    ["a\uDC00", "a lone surrogate U+DC00"],
    ["\uDE00\uD83D", "a lone surrogate U+DE00"],
  ])("%j is refused, naming %s", (value, what) => {
    expect(name(value)).toEqual({
      error: `must not contain characters the vendor cannot store (${what})`,
    });
  });

  it("U+FFFD, the replacement character, is refused: it stands for bytes that were not UTF-8", () => {
    expect(name("caf\uFFFD")).toEqual({
      error:
        "must not contain U+FFFD, the replacement character, which stands for text that was not valid UTF-8: send the name as UTF-8",
    });
  });

  it("control characters keep their own message", () => {
    expect(name("a\u0000b")).toEqual({ error: "must not contain control characters" });
  });

  it("the same on a change", () => {
    expect(validate(UpdateBody, { name: "x\uFFFE" })).toEqual({
      ok: false,
      fields: { name: "must not contain characters the vendor cannot store (U+FFFE)" },
    });
  });
});
