import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseBalance } from "../../shared/adapters/billmgr/client.ts";
import { child, closesItsRoot, field, parseAnswer } from "../../shared/adapters/billmgr/document.ts";
import { readDetails, readList } from "../../shared/adapters/billmgr/licence.ts";
import { statusFromCode } from "../../shared/domain/ports/billing.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/billmgr/${name}`, import.meta.url), "utf8");

function doc(name: string, format: "xml" | "json" = "xml") {
  const answer = parseAnswer(fixture(name), format);
  if (!answer.ok) throw new Error(`expected success, got ${JSON.stringify(answer)}`);
  return answer.doc;
}

describe("vendor answers", () => {
  it.each([
    ["error-auth.xml", "auth", "badpassword", "Неверное имя пользователя или пароль"],
    ["error-value-ip.xml", "value", "ip", "The value of the 'IP address' field is invalid"],
    ["error-missed-elid.xml", "missed", "elid", "Object not found"],
    ["error-exists-ip.xml", "exists", "ip", "A license for this IP address already exists"],
  ])("%s is a vendor error with its type, object and message", (name, type, object, message) => {
    expect(parseAnswer(fixture(name), "xml")).toEqual({
      ok: false,
      reason: "vendor_error",
      type,
      object,
      message,
    });
  });

  it("reads the JSON error shape ($type, $object, msg.$)", () => {
    expect(parseAnswer(fixture("error.json"), "json")).toEqual({
      ok: false,
      reason: "vendor_error",
      type: "value",
      object: "ip",
      message: "The value of the 'IP address' field is invalid",
    });
  });

  it.each(["gateway-error.html", "truncated.xml"])("%s is never a success", (name) => {
    const answer = parseAnswer(fixture(name), "xml");
    expect(answer).toMatchObject({ ok: false, reason: "not_vendor_document" });
  });

  it.each([
    ["", "xml"],
    ["<doc><ok/>", "xml"],
    ["not xml", "xml"],
    ['{"doc":', "json"],
    ['{"other":{}}', "json"],
    ["<html><body>ok</body></html>", "xml"],
  ] as const)("%j is not a vendor document", (body, format) => {
    expect(parseAnswer(body, format)).toMatchObject({ ok: false, reason: "not_vendor_document" });
  });

  const wholeXml = [
    "ok.xml",
    "prolong-ok.xml",
    "order-ok-id.xml",
    "order-ok-item-id.xml",
    "list.xml",
    "edit-form.xml",
    "newkey-ok.xml",
    "error-auth.xml",
    "error-exists-ip.xml",
  ];

  it.each(wholeXml)("%s: no cut-off head of it reads as an answer, at any byte", (name) => {
    const body = fixture(name);
    expect(closesItsRoot(body)).toBe(true);
    for (let end = 0; end < body.length; end++) {
      const head = body.slice(0, end);
      // A head that lacks only trailing white space is the whole answer.
      if (head.trimEnd() === body.trimEnd()) continue;
      const answer = parseAnswer(head, "xml");
      if (answer.ok || answer.reason !== "not_vendor_document")
        throw new Error(`${name} cut at ${end} of ${body.length} read as ${JSON.stringify(answer)}`);
    }
  });

  it("the renewal's answer cut right after its nested </doc> ends in </doc> and is still not an answer", () => {
    const body = fixture("prolong-ok.xml");
    const head = body.slice(0, body.indexOf("</doc>") + "</doc>".length);
    expect(head.endsWith("</doc>")).toBe(true);
    expect(closesItsRoot(head)).toBe(false);
    expect(parseAnswer(head, "xml")).toMatchObject({ ok: false, reason: "not_vendor_document" });
  });

  it("comments and CDATA leave the decision to the full validator, which still reads a whole answer", () => {
    const body =
      '<?xml version="1.0"?>\n<doc><!-- <doc> --><doc><newexpiredate><![CDATA[2021-07-16]]></newexpiredate></doc><ok/></doc>';
    expect(closesItsRoot(body)).toBe(false);
    const answer = parseAnswer(body, "xml");
    expect(answer.ok).toBe(true);
    const cut = body.slice(0, body.indexOf("<ok/>"));
    expect(parseAnswer(cut, "xml")).toMatchObject({ ok: false, reason: "not_vendor_document" });
  });

  it.each([
    ["two roots", "<doc><ok/></doc><doc><ok/></doc>"],
    ["another element beside the root", "<x/><doc><ok/></doc>"],
    ["<doc> inside another root", "<html><doc><ok/></doc></html>"],
  ])("%s is not a vendor document", (_, body) => {
    expect(parseAnswer(body, "xml")).toMatchObject({ ok: false, reason: "not_vendor_document" });
  });

  it("finds the new id as <id> or as <item.id>", () => {
    expect(field(doc("order-ok-id.xml"), "id")).toBe("2512171");
    expect(field(doc("order-ok-item-id.xml"), "item.id")).toBe("2512172");
  });

  it("finds the renewal's new expiry in the nested doc", () => {
    expect(field(child(doc("prolong-ok.xml"), "doc"), "newexpiredate")).toBe("2021-07-16");
  });

  it("reads a list, skipping data-less elems and unescaping names", () => {
    const rows = readList(doc("list.xml"));
    expect(rows.map((r) => [r.id, r.name, r.status, r.expiresOn])).toEqual([
      ["334673", "web-1", "active", "2021-06-16"],
      ["334674", "Tom & Jerry", "suspended", "2021-12-31"],
      ["334675", "old", "processing", "2021-02-01"],
    ]);
    expect(rows[0]).toMatchObject({
      pricelist: "4601",
      period: 1,
      createdOn: "2021-03-16",
      ip: "82.156.37.16",
    });
  });

  it("reads the same list from out=json", () => {
    const rows = readList(doc("list.json", "json"));
    expect(rows).toEqual([
      {
        id: "334673",
        name: "web-1",
        ip: "82.156.37.16",
        pricelist: "4601",
        period: 1,
        status: "active",
        statusCode: "2",
        expiresOn: "2021-06-16",
        createdOn: undefined,
      },
    ]);
  });

  it("reads the licence form with key, remote IP, nodes and change dates", () => {
    expect(readDetails(doc("edit-form.xml"))).toEqual({
      id: "334673",
      name: "web-1",
      ip: "82.156.37.16",
      pricelist: "4601",
      period: 1,
      status: "active",
      statusCode: "2",
      expiresOn: "2021-06-16",
      createdOn: "2021-03-16",
      key: "b3f1c9a0e2d44f6c8a7e",
      remoteIp: "82.156.37.16",
      addons: { addon_4602: 2 },
      ipChangedOn: "2021-05-02",
      keyChangedOn: "2021-03-16",
    });
  });

  it("reads a form right after an order: no key yet, processing", () => {
    expect(readDetails(doc("edit-form-nokey.xml"))).toMatchObject({ key: undefined, status: "processing" });
  });

  it("maps status codes 0-5 and sub-states", () => {
    expect(["0", "1", "2", "3", "4", "5", "5_prolong", "9", ""].map(statusFromCode)).toEqual([
      "unknown",
      "ordered",
      "active",
      "suspended",
      "deleted",
      "processing",
      "processing",
      "unknown",
      "unknown",
    ]);
  });

  it("reads a balance written with its currency", () => {
    const row = child(doc("balance-dashboard.json", "json"), "elem");
    expect(parseBalance(field(row, "balance") ?? "", undefined)).toEqual({
      minor: 12345,
      currency: "EUR",
      text: "123.45 EUR",
    });
    expect(parseBalance("1 234,5 RUB", undefined)).toMatchObject({ minor: 123450, currency: "RUB" });
    expect(parseBalance("-5.00", "EUR")).toMatchObject({ minor: -500, currency: "EUR" });
    expect(parseBalance("n/a", undefined)).toBeUndefined();
  });
});

describe("character references in the vendor's XML", () => {
  const listXml = (name: string) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<doc func="soft"><elem/><elem><id>7</id><licname>${name}</licname>` +
    "<ip>82.156.37.16</ip><status>2</status></elem></doc>";
  const names = (body: string) => readList(doc(body)).map((row) => row.name);
  function doc(body: string, format: "xml" | "json" = "xml") {
    const answer = parseAnswer(body, format);
    if (!answer.ok) throw new Error(`expected success, got ${JSON.stringify(answer)}`);
    return answer.doc;
  }

  it("decodes decimal and hex references, hex digits in either case, astral ones too", () => {
    expect(names(listXml("&#1058;&#x435;&#1089;&#x442;-&#x441;&#1077;&#x440;&#x432;&#1077;&#x440;"))).toEqual(
      ["Тест-сервер"],
    );
    expect(names(listXml("shop &#x1F600; &#128512; &#x1f680;"))).toEqual(["shop 😀 😀 🚀"]);
    // Leading zeros are allowed; the result is one code point, not two UTF-16 halves decoded apart.
    expect(names(listXml("&#x0001F600;&#00065;"))).toEqual(["😀A"]);
  });

  it("decodes the five named entities, and references in attribute values", () => {
    expect(names(listXml("&lt;a&gt; &amp; &quot;b&quot; &apos;c&apos;"))).toEqual([`<a> & "b" 'c'`]);
    const body =
      '<doc><error type="&#x432;&#1072;lue" object="&#x1F600;"><msg>&#1053;&#x435;&#1090;</msg></error></doc>';
    expect(parseAnswer(body, "xml")).toEqual({
      ok: false,
      reason: "vendor_error",
      type: "ваlue",
      object: "😀",
      message: "Нет",
    });
  });

  it("decodes once: an escaped ampersand before a reference is the text of the reference", () => {
    expect(names(listXml("&amp;#1058; &amp;#x422; &amp;amp; &amp;lt;"))).toEqual([
      "&#1058; &#x422; &amp; &lt;",
    ]);
    const attr = doc('<doc><v a="&amp;#x1F600;"/></doc>').v;
    expect(attr).toEqual({ "@_a": "&#x1F600;" });
  });

  it("keeps a reference XML 1.0 cannot carry, a malformed one or an undeclared entity exactly as written", () => {
    for (const kept of [
      "&#0;",
      "&#x0;",
      "&#xD800;",
      "&#57343;",
      "&#xFFFE;",
      "&#xFFFF;",
      "&#x1;",
      "&#x110000;",
      "&#99999999999999999999;",
      "&#X41;",
      "&#12abc;",
      "&#;",
      "&#x;",
      "&nbsp;",
      "&copy;",
    ]) {
      expect(names(listXml(`a${kept}b`)), kept).toEqual([`a${kept}b`]);
    }
    // The last code points on either side of each excluded range are characters, and decoded.
    expect(names(listXml("x&#x9;&#xD7FF;&#xE000;&#xFFFD;&#x10000;&#x10FFFF;"))).toEqual([
      "x\t\uD7FF\uE000\uFFFD\u{10000}\u{10FFFF}",
    ]);
  });

  it("expands no entity a document declares", () => {
    const body = '<!DOCTYPE doc [<!ENTITY x "&#1058;&#1058;">]><doc><v>&x;</v></doc>';
    expect(field(doc(body), "v")).toBe("&x;");
  });

  it("out=json has no references: a value that reads like one stays as it is", () => {
    const body = JSON.stringify({ doc: { elem: [{ id: { $: "7" }, licname: { $: "&#1058; \u0422" } }] } });
    expect(readList(doc(body, "json")).map((row) => row.name)).toEqual(["&#1058; Т"]);
  });
});
