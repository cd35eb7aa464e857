import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { loadCatalogue } from "../../shared/domain/catalogue/catalogue.ts";
import { type Answer, type ApiHarness, apiHarness, freshIp } from "../support/api.ts";
import { liteOrder } from "../support/fixtures.ts";
import { findSecret } from "../support/secrets.ts";
import type { FaultKind } from "../support/vendor.ts";

/** A product the vendor does not sell (its pricelist is unknown to the sandbox), to provoke `value` errors. */
const catalogue = loadCatalogue();
const withGhost = JSON.stringify({
  currency: catalogue.currency,
  products: [
    ...catalogue.products,
    { ...catalogue.products[0], id: "ispmanager6-ghost", title: "Ghost", pricelist: "999999", lifecycle: {} },
  ],
});

let h: ApiHarness;
const answers: Answer[] = [];
async function call(...args: Parameters<ApiHarness["call"]>): Promise<Answer> {
  const answer = await h.call(...args);
  answers.push(answer);
  return answer;
}

beforeAll(async () => {
  h = await apiHarness({ now: "2021-05-01", env: { BILLMGR_TIMEOUT_MS: "400", CATALOGUE_JSON: withGhost } });
});
afterAll(async () => {
  // The password never reaches a response body or header, nor any item of the register.
  for (const answer of answers) expect(findSecret(answer.text + JSON.stringify(answer.headers))).toEqual([]);
  const client = new DynamoDBClient({ endpoint: inject("dynamodbEndpoint") });
  const items = await client.send(new ScanCommand({ TableName: h.table }));
  expect(items.Items?.length).toBeGreaterThan(0);
  expect(findSecret(JSON.stringify(items.Items))).toEqual([]);
  client.destroy();
  await h.close();
});
beforeEach(() => h.vendor.sandbox.faults.clear());

const order = async (extra: Record<string, unknown> = {}) =>
  call("POST", "/licenses", {
    body: liteOrder({ name: "n", ...extra }),
    key: crypto.randomUUID(),
  });

describe("vendor refusals map to statuses, naming the vendor's object", () => {
  it("value: 422 upstream_rejected", async () => {
    const answer = await order({ product: "ispmanager6-ghost" });
    expect(answer.status).toBe(422);
    expect(answer.body.error).toMatchObject({
      code: "upstream_rejected",
      details: { vendorType: "value", vendorObject: "pricelist" },
    });
  });

  it("missed: 404 for a licence the vendor no longer knows", async () => {
    const { body } = await order();
    const res = await fetch(`${h.vendor.sandbox.controlUrl}/licences/${body.id}`, { method: "DELETE" });
    expect(res.status).toBe(204);
    const answer = await call("POST", `/licenses/${body.id}/suspend`);
    expect(answer.status).toBe(404);
    expect(answer.body.error).toMatchObject({ code: "not_found", details: { vendorType: "missed" } });
  });

  it("exists: 409 conflict for an IP that is already licensed", async () => {
    const first = await order();
    const answer = await order({ ip: first.body.ip });
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatchObject({ code: "conflict", details: { vendorObject: "ip" } });
    const { body } = await order();
    const moved = await call("PATCH", `/licenses/${body.id}`, { body: { ip: first.body.ip } });
    expect(moved.status).toBe(409);
  });

  it("access: 422 upstream_refused (resuming a licence that lapsed unpaid)", async () => {
    const { body } = await order();
    h.vendor.sandbox.setNow(new Date("2021-06-05T00:00:00Z"));
    try {
      const answer = await call("POST", `/licenses/${body.id}/resume`);
      expect(answer.status).toBe(422);
      expect(answer.body.error).toMatchObject({
        code: "upstream_refused",
        details: { vendorType: "access" },
      });
    } finally {
      h.vendor.sandbox.setNow(new Date("2021-05-01T00:00:00Z"));
    }
  });
});

describe("vendor faults", () => {
  it.each([
    ["timeout", 504, "upstream_timeout"],
    ["drop", 502, "upstream_unavailable"],
    ["http500", 502, "upstream_unavailable"],
    ["html", 502, "upstream_unavailable"],
    ["malformed", 502, "upstream_unavailable"],
  ] as const)("a read that keeps meeting %s: %i %s after its retries", async (kind, status, code) => {
    const { body } = await order();
    await h.vendor.fault("soft.edit", kind as FaultKind, 3);
    const before = h.vendor.calls("soft.edit");
    const answer = await call("GET", `/licenses/${body.id}?refresh=true`);
    expect(answer.status).toBe(status);
    expect(answer.body.error.code).toBe(code);
    expect(h.vendor.calls("soft.edit") - before).toBe(3);
  });

  it("a read that meets one fault is retried and succeeds", async () => {
    await h.vendor.fault("soft.checkip", "http500", 1);
    const answer = await call("GET", `/ip-availability?ip=${freshIp()}&product=ispmanager5-lite&period=1`);
    expect(answer).toMatchObject({ status: 200, body: { available: true } });
  });

  it("a licence change that meets a 500 is not retried: 502", async () => {
    const { body } = await order();
    await h.vendor.fault("soft.suspend", "http500", 3);
    const before = h.vendor.calls("soft.suspend");
    const answer = await call("POST", `/licenses/${body.id}/suspend`);
    expect(answer.status).toBe(502);
    expect(h.vendor.calls("soft.suspend") - before).toBe(1);
  });

  it("an order that meets a 500 after sending: 504 with outcome unknown, sent once", async () => {
    await h.vendor.fault("soft.order.param", "http500", 3);
    const before = h.vendor.calls("soft.order.param");
    const answer = await order();
    expect(answer).toMatchObject({
      status: 504,
      body: { outcome: "unknown", error: { code: "outcome_unknown" } },
    });
    expect(h.vendor.calls("soft.order.param") - before).toBe(1);
  });
});
