import { afterEach, describe, expect, it } from "vitest";
import type { Sandbox, SandboxOptions } from "../../sandbox/server.ts";
import { at, CREDENTIALS, call, expectError, expectOk, listRows, order, start, xmlDoc } from "./support.ts";

let sandbox: Sandbox;
async function open(options: SandboxOptions = {}): Promise<Sandbox> {
  sandbox = await start({ now: at("2021-05-01"), ...options });
  return sandbox;
}
afterEach(() => sandbox?.close());

function seedFive(): void {
  for (let n = 1; n <= 5; n++) {
    sandbox.state.seed({
      id: String(2000 - n * 10),
      licname: `lic-${n}`,
      ip: `10.0.0.${n}`,
      pricelist: "3541",
    });
  }
}

describe("func=soft, the licence list", () => {
  it("lists every licence in id order, deleted ones included, after one empty elem", async () => {
    await open();
    seedFive();
    await call(sandbox, { func: "soft.delete", elid: "1970" });
    const answer = await call(sandbox, { func: "soft" });
    const doc = xmlDoc(answer);
    expect(doc.elem[0]).toBe("");
    expect(answer.text).toContain('<doc lang="en" func="soft" binary="/billmgr"><elem/><elem><id>1950</id>');
    expect(listRows(answer).map((row) => [row.id, row.status])).toEqual([
      ["1950", "2"],
      ["1960", "2"],
      ["1970", "4"],
      ["1980", "2"],
      ["1990", "2"],
    ]);
    expect(listRows(answer)[0]).toEqual({
      id: "1950",
      licname: "lic-5",
      ip: "10.0.0.5",
      pricelist_id: "3541",
      period: "1",
      expiredate: "2021-06-01",
      createdate: "2021-05-01",
      status: "2",
    });
    expect(doc).toMatchObject({ p_cnt: "100", p_num: "1", p_elems: "5" });
  });

  it("pages with p_cnt and p_num, each page starting with an empty elem", async () => {
    await open();
    seedFive();
    const pages = [];
    for (const p_num of ["1", "2", "3", "4"]) {
      const answer = await call(sandbox, { func: "soft", p_cnt: "2", p_num });
      const doc = xmlDoc(answer);
      expect(doc.elem[0]).toBe("");
      expect(doc).toMatchObject({ p_cnt: "2", p_num, p_elems: "5" });
      pages.push(listRows(answer).map((row) => row.id));
    }
    expect(pages).toEqual([["1950", "1960"], ["1970", "1980"], ["1990"], []]);
  });

  it("uses the configured page size when the caller sends no p_cnt", async () => {
    await open({ pageSize: 3 });
    seedFive();
    const doc = xmlDoc(await call(sandbox, { func: "soft" }));
    expect(doc).toMatchObject({ p_cnt: "3", p_num: "1", p_elems: "5" });
    expect(doc.elem).toHaveLength(4);
  });

  it("forgets a licence removed through the control endpoint", async () => {
    await open();
    seedFive();
    const response = await fetch(new URL("/sandbox/licences/1970", sandbox.url), { method: "DELETE" });
    expect(response.status).toBe(204);
    const doc = xmlDoc(await call(sandbox, { func: "soft" }));
    expect(doc.p_elems).toBe("4");
    expectError(await call(sandbox, { func: "soft.edit", elid: "1970" }), "missed", "elid");
  });

  it("stores a value such as x&func=soft.delete literally and escapes it in answers", async () => {
    await open();
    for (const [method, ip] of [
      ["GET", "10.0.1.1"],
      ["POST", "10.0.1.2"],
    ] as const) {
      const id = await order(sandbox, { licname: "x&func=soft.delete", ip }, method);
      expect(sandbox.state.get(id)).toMatchObject({ licname: "x&func=soft.delete", status: "2" });
    }
    const tricky = `Tom & "Jerry" <'b'>`;
    const id = await order(sandbox, { licname: tricky, ip: "10.0.1.3" });
    expect(sandbox.callCount("soft.delete")).toBe(0);
    const answer = await call(sandbox, { func: "soft" });
    expect(answer.text).toContain("<licname>x&amp;func=soft.delete</licname>");
    expect(answer.text).toContain("<licname>Tom &amp; &quot;Jerry&quot; &lt;&apos;b&apos;&gt;</licname>");
    expect(listRows(answer).map((row) => row.status)).toEqual(["2", "2", "2"]);
    const json = JSON.parse((await call(sandbox, { func: "soft.edit", elid: id, out: "json" })).text);
    expect(json.doc.licname.$).toBe(tricky);
  });
});

describe("session login (func=auth)", () => {
  const [user, password] = [
    CREDENTIALS.slice(0, CREDENTIALS.indexOf(":")),
    CREDENTIALS.slice(CREDENTIALS.indexOf(":") + 1),
  ];

  async function login(): Promise<string> {
    const answer = await call(
      sandbox,
      { func: "auth", authinfo: undefined, username: user, password },
      { method: "POST" },
    );
    const doc = xmlDoc(answer);
    expect(doc.auth["@_level"]).toBe("16");
    expect(doc.auth["@_id"]).toBe(doc.auth["#text"]);
    return doc.auth["@_id"] as string;
  }

  it("answers a session id that later calls pass as auth", async () => {
    await open();
    const session = await login();
    expect(session).toMatch(/^[0-9a-f]{32}$/);
    const id = await order(sandbox, { auth: session });
    expectOk(await call(sandbox, { func: "soft.suspend", elid: id, auth: session }));
    expect(sandbox.state.get(id)?.status).toBe("3");
  });

  it("refuses a wrong password at login", async () => {
    await open();
    const answer = await call(sandbox, {
      func: "auth",
      authinfo: undefined,
      username: user,
      password: "wrong",
    });
    expectError(answer, "auth", "badpassword");
    expectError(await call(sandbox, { func: "auth", authinfo: undefined }), "auth", "badpassword");
  });

  it("ends a session one hour after its last request, by the sandbox clock", async () => {
    await open({ now: at("2021-05-01T10:00:00Z") });
    const session = await login();
    sandbox.setNow(at("2021-05-01T10:59:00Z"));
    expect(xmlDoc(await call(sandbox, { func: "soft", auth: session })).error).toBeUndefined();
    sandbox.setNow(at("2021-05-01T11:58:00Z"));
    expect(xmlDoc(await call(sandbox, { func: "soft", auth: session })).error).toBeUndefined();
    sandbox.setNow(at("2021-05-01T12:58:01Z"));
    expectError(await call(sandbox, { func: "soft", auth: session }), "auth", "badpassword");
    sandbox.setNow(at("2021-05-01T12:58:02Z"));
    expectError(await call(sandbox, { func: "soft", auth: session }), "auth", "badpassword");
  });

  it("answers the session in JSON as $id, $level and $", async () => {
    await open();
    const answer = await call(sandbox, {
      func: "auth",
      authinfo: undefined,
      username: user,
      password,
      out: "json",
    });
    const auth = JSON.parse(answer.text).doc.auth;
    expect(auth).toEqual({ $id: auth.$, $level: "16", $: auth.$ });
  });
});
