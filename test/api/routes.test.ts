import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openApiDocument } from "../../functions/lib/openapi.ts";
import { routes } from "../../shared/api/routes.ts";
import { type ApiHarness, apiHarness, freshIp, OTHER_TOKEN } from "../support/api.ts";
import { liteOrder } from "../support/fixtures.ts";

let h: ApiHarness;
beforeAll(async () => {
  h = await apiHarness({ now: "2021-05-01" });
});
afterAll(() => h.close());

const order = (body: Record<string, unknown>, key = crypto.randomUUID()) =>
  h.call("POST", "/licenses", { body, key });

describe("every route, happy path, through real HTTP", () => {
  it("POST /licenses orders, and the register keeps it with the vendor's id, expiry and key", async () => {
    const body = liteOrder({ name: "shop", autoRenew: 12 });
    const created = await order(body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "shop",
      ip: body.ip,
      product: "ispmanager5-lite",
      pricelist: "3541",
      status: "active",
      expiresOn: "2021-06-01",
      autoRenew: 12,
    });
    expect(created.body.key).toMatch(/^[0-9a-f]{20}$/);
    const sent = h.vendor.sandbox.calls.filter((c) => c.func === "soft.order.param").at(-1)?.params;
    expect(sent).toMatchObject({ autoprolong: "null", skipbasket: "on", licname: "shop" });
    const stored = await h.call("GET", `/licenses/${created.body.id}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toEqual(created.body);
  });

  it("POST /licenses for Business sends nodes as addon_4602", async () => {
    const created = await order(liteOrder({ product: "ispmanager5-business", nodes: 3, period: 12 }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      nodes: 3,
      product: "ispmanager5-business",
      expiresOn: "2021-12-31",
    });
    const sent = h.vendor.sandbox.calls.filter((c) => c.func === "soft.order.param").at(-1)?.params;
    expect(sent).toMatchObject({ pricelist: "4601", addon_4602: "3" });
  });

  it("GET /licenses lists by status and expiry, paged with an opaque cursor", async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await order(liteOrder({ name: `page-${i}` }))).body.id);
    await h.call("POST", `/licenses/${ids[0]}/suspend`);
    const suspended = await h.call("GET", "/licenses?status=suspended");
    expect(suspended.status).toBe(200);
    expect(suspended.body.items.map((l: { id: string }) => l.id)).toContain(ids[0]);
    expect(suspended.body.items.every((l: { status: string }) => l.status === "suspended")).toBe(true);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: Array<{ id: string; expiresOn: string }>; cursor: string | null } } =
        await h.call("GET", `/licenses?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((l) => l.id));
      cursor = page.body.cursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of ids) expect(seen).toContain(id);

    const early = await h.call("GET", "/licenses?expiresBefore=2021-06-02");
    expect(early.body.items.every((l: { expiresOn: string }) => l.expiresOn < "2021-06-02")).toBe(true);
    expect(early.body.items.length).toBeGreaterThan(0);
  });

  it("GET /licenses/{id}?refresh=true reads the vendor's form", async () => {
    const { body } = await order(liteOrder());
    const before = h.vendor.calls("soft.edit");
    const fresh = await h.call("GET", `/licenses/${body.id}?refresh=true`);
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ id: body.id, key: body.key, status: "active" });
    expect(h.vendor.calls("soft.edit") - before).toBe(1);
  });

  it("PATCH changes name and IP at the vendor, and autoRenew without a vendor call", async () => {
    const { body } = await order(liteOrder({ name: "old" }));
    const ip = freshIp();
    const edited = await h.call("PATCH", `/licenses/${body.id}`, { body: { name: "new", ip } });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ name: "new", ip });
    const vendorView = await h.call("GET", `/licenses/${body.id}?refresh=true`);
    expect(vendorView.body).toMatchObject({ name: "new", ip });

    const calls = h.vendor.sandbox.calls.length;
    const auto = await h.call("PATCH", `/licenses/${body.id}`, { body: { autoRenew: 1 } });
    expect(auto.body.autoRenew).toBe(1);
    expect(h.vendor.sandbox.calls.length).toBe(calls);
  });

  it("POST /licenses/{id}/renew moves the expiry", async () => {
    const { body } = await order(liteOrder());
    const renewed = await h.call("POST", `/licenses/${body.id}/renew`, {
      body: { period: 1 },
      key: crypto.randomUUID(),
    });
    expect(renewed.status).toBe(200);
    expect(renewed.body.expiresOn).toBe("2021-07-01");
    expect((await h.call("GET", `/licenses/${body.id}`)).body.expiresOn).toBe("2021-07-01");
  });

  it("suspend, resume, key and delete", async () => {
    const { body } = await order(liteOrder());
    expect((await h.call("POST", `/licenses/${body.id}/suspend`)).body.status).toBe("suspended");
    expect((await h.call("POST", `/licenses/${body.id}/resume`)).body.status).toBe("active");
    const key = await h.call("POST", `/licenses/${body.id}/key`);
    expect(key.status).toBe(200);
    expect(key.body.key).toMatch(/^[0-9a-f]{20}$/);
    expect(key.body.key).not.toBe(body.key);
    expect((await h.call("GET", `/licenses/${body.id}`)).body.key).toBe(key.body.key);
    const deleted = await h.call("DELETE", `/licenses/${body.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.status).toBe("deleted");
  });

  it("GET /ip-availability: free, or taken with the vendor's reason", async () => {
    const free = await h.call("GET", `/ip-availability?ip=${freshIp()}&product=ispmanager5-lite&period=1`);
    expect(free).toMatchObject({ status: 200, body: { available: true } });
    const { body } = await order(liteOrder());
    const taken = await h.call("GET", `/ip-availability?ip=${body.ip}&product=ispmanager5-lite&period=12`);
    expect(taken.status).toBe(200);
    expect(taken.body.available).toBe(false);
    expect(taken.body.reason).toMatch(/already/i);
  });

  it("ISPmanager 6 shares the IP of a live ISPmanager 5 licence: one live licence per IP and generation", async () => {
    const { body: five } = await order(liteOrder());
    const six = (period = 12) =>
      h.call("GET", `/ip-availability?ip=${five.ip}&product=ispmanager6-lite&period=${period}`);
    expect(await six()).toMatchObject({ status: 200, body: { available: true } });
    const balance = h.vendor.sandbox.state.balanceMinor;
    const placed = await order(
      liteOrder({ ip: five.ip, name: "web-1-v6", product: "ispmanager6-lite", period: 12 }),
    );
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({
      ip: five.ip,
      product: "ispmanager6-lite",
      pricelist: "55227",
      expiresOn: "2022-05-01",
    });
    expect(h.vendor.sandbox.state.balanceMinor).toBe(balance - 7000);
    expect((await h.call("GET", `/licenses/${five.id}`)).body.status).toBe("active");

    // A second ISPmanager 6 licence on that IP: refused by the desk's check, nothing sent or charged.
    expect((await six(1)).body).toMatchObject({ available: false });
    const orders = h.vendor.sandbox.calls.filter((c) => c.func === "soft.order.param").length;
    const second = await order(liteOrder({ ip: five.ip, product: "ispmanager6-pro", period: 1 }));
    expect(second.status).toBe(409);
    expect(h.vendor.sandbox.calls.filter((c) => c.func === "soft.order.param")).toHaveLength(orders);
    expect(h.vendor.sandbox.state.balanceMinor).toBe(balance - 7000);
  });

  it("every vendor call lands in the audit trail with the client's name; the order's entry names its new licence", async () => {
    const { body } = await order(liteOrder({ name: "audited" }));
    await h.call("POST", `/licenses/${body.id}/suspend`);
    const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
    const { createDynamoRegister } = await import("../../shared/adapters/dynamodb/register.ts");
    const { inject } = await import("vitest");
    const register = createDynamoRegister({
      client: new DynamoDBClient({ endpoint: inject("dynamodbEndpoint") }),
      tableName: h.table,
    });
    const entries = await register.audit.forLicence(body.id, 10);
    expect(entries.map((e) => [e.operation, e.client, e.outcome])).toEqual([
      ["suspend", "local", "ok"],
      ["get", "local", "ok"],
      ["order", "local", "ok"],
    ]);
    expect(entries.at(-1)?.params).toMatchObject({ name: "audited", product: "ispmanager5-lite" });
    expect(entries[0]?.durationMs).toBeGreaterThanOrEqual(0);
  });
});

describe("authentication", () => {
  it.each([
    ["no token", null],
    ["an unknown token", OTHER_TOKEN],
    ["a malformed header", "x"],
  ])("%s: 401 on every route, and nothing reaches the vendor", async (_, token) => {
    const before = h.vendor.sandbox.calls.length;
    for (const route of routes) {
      const path = route.path.replace("{id}", "2512171");
      const answer = await h.call(route.method, path, { token, body: {}, key: "k" });
      expect(answer.status, `${route.method} ${route.path}`).toBe(401);
      expect(answer.body.error.code).toBe("unauthorized");
    }
    expect(h.vendor.sandbox.calls.length).toBe(before);
  });
});

describe("validation: a clear 400 naming the field, and nothing sent to the vendor", () => {
  const cases: Array<[string, "GET" | "POST" | "PATCH", string, unknown, string[]]> = [
    ["bad IP", "POST", "/licenses", liteOrder({ ip: "999.1.1.1" }), ["ip"]],
    ["empty name", "POST", "/licenses", liteOrder({ name: "  " }), ["name"]],
    ["long name", "POST", "/licenses", liteOrder({ name: "x".repeat(65) }), ["name"]],
    ["control character", "POST", "/licenses", liteOrder({ name: "a\nb" }), ["name"]],
    ["unknown product", "POST", "/licenses", liteOrder({ product: "ispmanager7-pro" }), ["product"]],
    ["period 3", "POST", "/licenses", liteOrder({ period: 3 }), ["period"]],
    ["nodes on Lite", "POST", "/licenses", liteOrder({ nodes: 2 }), ["nodes"]],
    ["nodes 0", "POST", "/licenses", liteOrder({ product: "ispmanager5-business", nodes: 0 }), ["nodes"]],
    ["autoRenew 6", "POST", "/licenses", liteOrder({ autoRenew: 6 }), ["autoRenew"]],
    ["an unknown field", "POST", "/licenses", liteOrder({ pricelist: "1" }), ["pricelist"]],
    ["missing fields", "POST", "/licenses", {}, ["ip", "name", "product", "period"]],
    ["not an object", "POST", "/licenses", [1, 2], ["body"]],
    ["empty patch", "PATCH", "/licenses/2512171", {}, ["body"]],
    ["patch bad IP", "PATCH", "/licenses/2512171", { ip: "1.2.3" }, ["ip"]],
    ["renew period 2", "POST", "/licenses/2512171/renew", { period: 2 }, ["period"]],
    ["bad id", "POST", "/licenses/abc/suspend", undefined, ["id"]],
    ["list status", "GET", "/licenses?status=gone", undefined, ["status"]],
    ["list date", "GET", "/licenses?expiresBefore=2021-13-01", undefined, ["expiresBefore"]],
    ["list limit", "GET", "/licenses?limit=1000", undefined, ["limit"]],
    ["list cursor", "GET", "/licenses?cursor=not-a-cursor", undefined, ["cursor"]],
    ["refresh", "GET", "/licenses/2512171?refresh=yes", undefined, ["refresh"]],
    [
      "availability IP",
      "GET",
      "/ip-availability?ip=1.2.3.4.5&product=ispmanager5-lite&period=1",
      undefined,
      ["ip"],
    ],
    ["availability missing", "GET", "/ip-availability", undefined, ["ip", "product", "period"]],
  ];

  it.each(cases)("%s", async (_, method, path, body, fields) => {
    const before = h.vendor.sandbox.calls.length;
    const answer = await h.call(method, path, { body, key: crypto.randomUUID() });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("invalid_request");
    expect(Object.keys(answer.body.error.details.fields).sort()).toEqual([...fields].sort());
    expect(h.vendor.sandbox.calls.length).toBe(before);
  });

  it("malformed JSON", async () => {
    const answer = await h.call("POST", "/licenses", { rawBody: "{", key: "k" });
    expect(answer.status).toBe(400);
    expect(answer.body.error.details.fields).toEqual({ body: "must be valid JSON" });
  });

  it.each([
    ["POST", "/licenses", liteOrder()],
    ["POST", "/licenses/2512171/renew", { period: 1 }],
  ] as const)("%s %s without Idempotency-Key: 400, no vendor call", async (method, path, body) => {
    const before = h.vendor.sandbox.calls.length;
    const answer = await h.call(method, path, { body });
    expect(answer.status).toBe(400);
    expect(answer.body.error.details.fields).toHaveProperty("Idempotency-Key");
    expect(h.vendor.sandbox.calls.length).toBe(before);
  });

  it("an unknown licence: 404", async () => {
    const answer = await h.call("POST", "/licenses/99999999/suspend");
    expect(answer).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
  });

  it("an unknown route or method: 404/405", async () => {
    expect((await h.call("GET", "/nope")).status).toBe(404);
    expect((await h.call("PATCH", "/licenses")).status).toBe(405);
  });
});

describe("injection attempts travel as literal values", () => {
  it("a name that looks like vendor parameters is stored literally and deletes nothing", async () => {
    const victim = (await order(liteOrder({ name: "victim" }))).body;
    const name = `x&func=soft.delete&elid=${victim.id}&authinfo=a:b&out=json`;
    const created = await order(liteOrder({ name }));
    expect(created.status).toBe(201);
    expect(created.body.name).toBe(name);
    const vendorView = await h.call("GET", `/licenses/${created.body.id}?refresh=true`);
    expect(vendorView.body.name).toBe(name);
    expect((await h.call("GET", `/licenses/${victim.id}?refresh=true`)).body.status).toBe("active");
  });

  it("a path id with parameters is refused before anything is sent", async () => {
    const before = h.vendor.sandbox.calls.length;
    const answer = await h.call("POST", `/licenses/${encodeURIComponent("1&func=soft.delete")}/suspend`);
    expect(answer.status).toBe(400);
    expect(h.vendor.sandbox.calls.length).toBe(before);
  });
});

describe("the OpenAPI document", () => {
  it("has every route of the table, each with a handler module, and nothing else", () => {
    const doc = openApiDocument() as { paths: Record<string, Record<string, { operationId: string }>> };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
    expect(routes).toHaveLength(14);
    for (const route of routes) {
      expect(existsSync(new URL(`../../functions/${route.handler}.ts`, import.meta.url)), route.handler).toBe(
        true,
      );
    }
  });

  it("describes the order body from the same schema the handler validates with", () => {
    const doc = openApiDocument() as any;
    const body = doc.paths["/licenses"].post.requestBody.content["application/json"].schema;
    expect(body.required.sort()).toEqual(["ip", "name", "period", "product"]);
    expect(body.additionalProperties).toBe(false);
    expect(doc.paths["/licenses"].post.parameters[0]).toMatchObject({
      name: "Idempotency-Key",
      in: "header",
      required: true,
    });
  });
});
