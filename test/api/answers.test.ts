import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiHarness, apiHarness, TOKEN } from "../support/api.ts";
import { liteOrder } from "../support/fixtures.ts";

/** The API's answers as a client reads them: what was wrong, what happened, and never cached. */

let h: ApiHarness;
beforeAll(async () => {
  h = await apiHarness({ now: "2021-05-01" });
});
afterAll(() => h.close());

async function bought(extra: Record<string, unknown> = {}) {
  const created = await h.call("POST", "/licenses", { body: liteOrder(extra), key: crypto.randomUUID() });
  expect(created.status).toBe(201);
  return created.body as { id: string; expiresOn: string; period: number };
}

describe("a bad request names every bad field at once, in plain words, and sends nothing", () => {
  it("an order with an unknown product, a bad IP and name, no period and no Idempotency-Key", async () => {
    const before = h.vendor.sandbox.calls.length;
    const answer = await h.call("POST", "/licenses", {
      body: { ip: "999.1.1.1", name: "a\tb", product: "ispmanager7-pro" },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("invalid_request");
    expect(answer.body.error.details.fields).toEqual({
      ip: "must be an IPv4 or IPv6 address",
      name: "must not contain control characters",
      period: "is required",
      product:
        "is not in the catalogue (ispmanager5-lite, ispmanager5-business, ispmanager6-lite, ispmanager6-pro, ispmanager6-host, ispmanager6-business)",
      "Idempotency-Key": "is required for this request",
    });
    expect(answer.body.error.message).toBe(
      "invalid request: ip must be an IPv4 or IPv6 address; name must not contain control characters; " +
        "period is required; product is not in the catalogue (ispmanager5-lite, ispmanager5-business, ispmanager6-lite, ispmanager6-pro, ispmanager6-host, ispmanager6-business); " +
        "Idempotency-Key is required for this request",
    );
    expect(h.vendor.sandbox.calls.length).toBe(before);
  });

  it("a renewal with a bad id, a bad period and no key; a read with a bad id and refresh", async () => {
    const before = h.vendor.sandbox.calls.length;
    const renew = await h.call("POST", "/licenses/12x/renew", { body: { period: "12" } });
    expect(renew.status).toBe(400);
    expect(renew.body.error.details.fields).toEqual({
      id: "must be a licence id (digits)",
      period: "must be 1 or 12",
      "Idempotency-Key": "is required for this request",
    });
    const get = await h.call("GET", "/licenses/x?refresh=yes");
    expect(get.body.error.details.fields).toEqual({
      id: "must be a licence id (digits)",
      refresh: "must be true or false",
    });
    const patch = await h.call("PATCH", "/licenses/x", { body: { ip: 7, autoRenew: 6 } });
    expect(patch.body.error.details.fields).toEqual({
      id: "must be a licence id (digits)",
      ip: "must be an IPv4 or IPv6 address",
      autoRenew: "must be null, 1 or 12",
    });
    expect(h.vendor.sandbox.calls.length).toBe(before);
  });

  it("an availability check with an unknown product and a bad IP", async () => {
    const before = h.vendor.sandbox.calls.length;
    const answer = await h.call("GET", "/ip-availability?ip=1.2.3&product=nope&period=6");
    expect(answer.status).toBe(400);
    expect(answer.body.error.details.fields).toEqual({
      ip: "must be an IPv4 or IPv6 address",
      period: "must be 1 or 12",
      product:
        "is not in the catalogue (ispmanager5-lite, ispmanager5-business, ispmanager6-lite, ispmanager6-pro, ispmanager6-host, ispmanager6-business)",
    });
    expect(h.vendor.sandbox.calls.length).toBe(before);
  });
});

describe("renewals", () => {
  it("a licence already at the 2021-12-31 cap: 422 already_at_cap, nothing sent, nothing charged", async () => {
    const licence = await bought({ period: 12 });
    expect(licence.expiresOn).toBe("2021-12-31");
    const calls = h.vendor.sandbox.calls.length;
    const charged = (await h.vendor.state()).chargedMinor;
    const answer = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 1 },
      key: crypto.randomUUID(),
    });
    expect(answer.status).toBe(422);
    expect(answer.body.error).toMatchObject({
      code: "already_at_cap",
      details: { licenceId: licence.id, expiresOn: "2021-12-31", cap: "2021-12-31", outcome: "not_applied" },
    });
    expect(answer.body.error.message).toBe(
      `licence ${licence.id} already runs to the last day ISPmanager 5 Lite allows (2021-12-31): ` +
        "a renewal cannot extend it; nothing was sent or charged",
    );
    expect(h.vendor.sandbox.calls.length).toBe(calls);
    expect((await h.vendor.state()).chargedMinor).toBe(charged);
  });

  it("after a 12-month renewal the register's period is 12, as the vendor's form says", async () => {
    const licence = await bought({ period: 1 });
    expect(licence.period).toBe(1);
    const renewed = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 12 },
      key: crypto.randomUUID(),
    });
    expect(renewed.status).toBe(200);
    expect(renewed.body).toMatchObject({ period: 12, expiresOn: "2021-12-31" });
    expect((await h.call("GET", `/licenses/${licence.id}`)).body.period).toBe(12);
    expect((await h.call("GET", `/licenses/${licence.id}?refresh=true`)).body.period).toBe(12);
  });
});

describe("every answer says cache-control: no-store", () => {
  it("successes, refusals, the gateway's own answers and authorizer denials", async () => {
    const licence = await bought();
    const answers = [
      await h.call("POST", "/licenses", { body: liteOrder(), key: crypto.randomUUID() }), // 201
      await h.call("GET", `/licenses/${licence.id}`), // 200
      await h.call("GET", "/licenses?limit=0"), // 400
      await h.call("GET", "/licenses", { token: null }), // 401, the authorizer
      await h.call("GET", "/licenses/99999999"), // 404, the register
      await h.call("GET", "/nope"), // 404, no route
      await h.call("PATCH", "/licenses"), // 405
      await h.call("POST", "/licenses", { rawBody: "x".repeat(1024 * 1024 + 1), key: "k" }), // 413
    ];
    expect(answers.map((a) => a.status)).toEqual([201, 200, 400, 401, 404, 404, 405, 413]);
    for (const answer of answers)
      expect(answer.headers["cache-control"], String(answer.status)).toBe("no-store");
  });
});

describe("authentication and paths", () => {
  it.each(["bearer", "BEARER", "Bearer", "bEaReR"])("the scheme %s is accepted", async (scheme) => {
    const answer = await h.call("GET", "/licenses?limit=1", {
      token: null,
      headers: { authorization: `${scheme} ${TOKEN}` },
    });
    expect(answer.status).toBe(200);
  });

  it("a malformed % escape in a path: 400 naming the id once authenticated, 401 before", async () => {
    const before = h.vendor.sandbox.calls.length;
    for (const [method, path] of [
      ["GET", "/licenses/%E0%A4%A"],
      ["POST", "/licenses/%E0%A4%A/renew"],
      ["DELETE", "/licenses/%"],
    ] as const) {
      const unauthenticated = await h.call(method, path, { token: null });
      expect(unauthenticated.status, `${method} ${path}`).toBe(401);
      // A body only where the route takes one: elsewhere it would be named too.
      const body = method === "POST" ? { period: 1 } : undefined;
      const answer = await h.call(method, path, { body, key: "k" });
      expect(answer.status, `${method} ${path}`).toBe(400);
      expect(answer.body.error.details.fields).toEqual({ id: "must be a licence id (digits)" });
    }
    expect(h.vendor.sandbox.calls.length).toBe(before);
  });
});
