import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ApiHarness, apiHarness } from "../support/api.ts";
import { liteOrder } from "../support/fixtures.ts";

/**
 * `POST /licenses/{id}/change-product` over real HTTP against the sandbox and DynamoDB Local: a tariff
 * change within one product line (`service.changepricelist`) under the outcome model, counting the
 * vendor's tariff changes and what it charged.
 */
let h: ApiHarness;
const outboxDir = mkdtempSync(join(tmpdir(), "desk-outbox-"));
beforeAll(async () => {
  h = await apiHarness({
    now: "2021-05-01",
    env: { BILLMGR_TIMEOUT_MS: "400", OUTBOX_FILE: join(outboxDir, "outbox.jsonl") },
  });
  // Enough for every test's orders and changes: a refusal for money is not what these tests are about.
  h.vendor.sandbox.state.setBalance(1_000_000);
});
afterAll(async () => {
  await h.close();
  rmSync(outboxDir, { recursive: true, force: true });
});
beforeEach(() => h.vendor.sandbox.faults.clear());

const SETTLE_MS = 900_000;
const changes = () => h.vendor.calls("service.changepricelist");
const charged = () =>
  h.vendor.sandbox.state
    .charges()
    .filter((c) => c.func === "service.changepricelist")
    .map((c) => c.amountMinor);
const balance = () => h.vendor.sandbox.state.balanceMinor;

async function lite(extra: Record<string, unknown> = {}) {
  const answer = await h.call("POST", "/licenses", {
    body: liteOrder({ period: 12, ...extra }),
    key: crypto.randomUUID(),
  });
  expect(answer.status).toBe(201);
  return answer.body as { id: string; ip: string; expiresOn: string };
}
const change = (id: string, body: Record<string, unknown>, key: string) =>
  h.call("POST", `/licenses/${id}/change-product`, { body, key });

describe("a change of product through the API", () => {
  it("moves Lite to Business on the vendor and in the register, charged once however often it is retried", async () => {
    const licence = await lite();
    const [callsBefore, balanceBefore] = [changes(), balance()];
    const moved = await change(licence.id, { product: "ispmanager5-business", nodes: 2 }, "chg-1");
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({
      id: licence.id,
      product: "ispmanager5-business",
      pricelist: "4601",
      nodes: 2,
      expiresOn: licence.expiresOn,
    });
    const atVendor = h.vendor.sandbox.state.get(licence.id);
    expect(atVendor).toMatchObject({ pricelist: "4601", nodes: 2, expiredate: licence.expiresOn });
    // The yearly difference (Business 14000 + 2 nodes x 3000, Lite 6000) for the 244 days left of the
    // licence's 365 (ordered after the cap, it runs to 2021-12-31).
    const price = Math.round(((14000 + 2 * 3000 - 6000) * 244) / 365);
    expect(charged().slice(-1)).toEqual([price]);
    expect(balance()).toBe(balanceBefore - price);
    expect(changes() - callsBefore).toBe(1);

    const replay = await change(licence.id, { product: "ispmanager5-business", nodes: 2 }, "chg-1");
    expect(replay).toMatchObject({ status: 200, body: moved.body });
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    // The same again under a new key: it has that product already; nothing is sent.
    const again = await change(licence.id, { product: "ispmanager5-business" }, "chg-2");
    expect(again).toMatchObject({ status: 409, body: { error: { code: "product_unchanged" } } });
    expect(changes() - callsBefore).toBe(1);
    expect(balance()).toBe(balanceBefore - price);
    // A fresh read of the vendor's form agrees, and the register stays on the new product.
    const fresh = await h.call("GET", `/licenses/${licence.id}?refresh=true`);
    expect(fresh.body).toMatchObject({ product: "ispmanager5-business", nodes: 2 });
  });

  it("its answer lost: 504 unknown, a renewal held meanwhile, settled from the vendor's pricelist; one change, one charge", async () => {
    const licence = await lite({ period: 1 });
    await h.vendor.fault("service.changepricelist", "act-then-drop", 1);
    const [callsBefore, chargesBefore] = [changes(), charged().length];
    const lost = await change(licence.id, { product: "ispmanager5-business" }, "chg-lost");
    expect(lost).toMatchObject({ status: 504, body: { outcome: "unknown" } });
    // One money call per licence at a time: its evidence must not move under it.
    const renewal = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 1 },
      key: "renew-meanwhile",
    });
    expect(renewal).toMatchObject({ status: 409, body: { error: { code: "renewal_in_flight" } } });
    expect(await change(licence.id, { product: "ispmanager5-business" }, "chg-lost")).toMatchObject({
      status: 409,
      body: { error: { code: "outcome_pending" } },
    });
    h.advance(SETTLE_MS);
    const settled = await change(licence.id, { product: "ispmanager5-business" }, "chg-lost");
    expect(settled).toMatchObject({ status: 200, body: { product: "ispmanager5-business", nodes: 1 } });
    expect([changes() - callsBefore, charged().length - chargesBefore]).toEqual([1, 1]);
    // Settled, the licence is free again: the renewal goes through.
    const renewed = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 1 },
      key: "renew-after",
    });
    expect(renewed.status).toBe(200);
  });

  it("lost before the vendor acted: not applied after the window, nothing charged, and a new key changes it", async () => {
    const licence = await lite();
    await h.vendor.fault("service.changepricelist", "drop", 1);
    const chargesBefore = charged().length;
    expect((await change(licence.id, { product: "ispmanager5-business" }, "chg-dropped")).status).toBe(504);
    h.advance(SETTLE_MS);
    const settled = await change(licence.id, { product: "ispmanager5-business" }, "chg-dropped");
    expect(settled).toMatchObject({
      status: 409,
      body: { error: { code: "product_change_not_applied", details: { outcome: "not_applied" } } },
    });
    expect(charged().length).toBe(chargesBefore);
    expect(h.vendor.sandbox.state.get(licence.id)?.pricelist).toBe("3541");
    const next = await change(licence.id, { product: "ispmanager5-business" }, "chg-dropped-2");
    expect(next.status).toBe(200);
    expect(charged().length).toBe(chargesBefore + 1);
  });

  it("its answer lost and no retry: the scheduled reconciler settles it, and the retry replays that", async () => {
    const { handler } = await import("../../functions/reconciler.ts");
    const lambda = { getRemainingTimeInMillis: () => 300_000 };
    const licence = await lite();
    await h.vendor.fault("service.changepricelist", "act-then-drop", 1);
    const before = changes();
    expect((await change(licence.id, { product: "ispmanager5-business" }, "chg-rec")).status).toBe(504);
    h.advance(SETTLE_MS);
    expect((await handler(undefined, lambda)).settled).toBeGreaterThanOrEqual(1);
    expect((await h.call("GET", `/licenses/${licence.id}`)).body).toMatchObject({
      product: "ispmanager5-business",
    });
    const retry = await change(licence.id, { product: "ispmanager5-business" }, "chg-rec");
    expect(retry).toMatchObject({ status: 200, body: { product: "ispmanager5-business" } });
    expect(changes() - before).toBe(1);
  });

  it("refused with nothing sent: another line, an unknown product, nodes on Lite, a deleted licence, the same product", async () => {
    const licence = await lite();
    const gone = await lite();
    await h.call("DELETE", `/licenses/${gone.id}`);
    const before = [changes(), balance()];
    const other = await change(licence.id, { product: "ispmanager6-pro" }, "chg-r1");
    expect(other).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    expect(other.body.error.details.fields.product).toMatch(/own product line \(ispmanager5.*successor/);
    const unknown = await change(licence.id, { product: "ispmanager9-lite" }, "chg-r2");
    expect(unknown.body.error.details.fields.product).toMatch(/not in the catalogue|unknown/);
    const nodes = await change(licence.id, { product: "ispmanager5-lite", nodes: 2 }, "chg-r3");
    expect(nodes.body.error.details.fields.nodes).toMatch(/has no cluster nodes/);
    expect(await change(licence.id, { product: "ispmanager5-lite" }, "chg-r4")).toMatchObject({
      status: 409,
      body: { error: { code: "product_unchanged" } },
    });
    expect(await change(gone.id, { product: "ispmanager5-business" }, "chg-r5")).toMatchObject({
      status: 409,
      body: { error: { code: "licence_deleted" } },
    });
    const missing = await h.call("POST", `/licenses/${licence.id}/change-product`, {
      body: { product: "ispmanager5-business" },
    });
    expect(missing.status).toBe(400);
    const extra = await change(licence.id, { product: "ispmanager5-business", pricelist: "1" }, "chg-r6");
    expect(extra.body.error.details.fields.pricelist).toBeDefined();
    expect([changes(), balance()]).toEqual(before);
  });

  it("an order whose answer was lost is still found placed after its licence's product changed (the simulation's seed 10010)", async () => {
    await h.vendor.fault("soft.order.param", "act-then-drop", 1);
    const body = liteOrder({ name: "changed-since", period: 12 });
    const lost = await h.call("POST", "/licenses", { body, key: "order-then-change" });
    expect(lost.status).toBe(504);
    const placed = h.vendor.sandbox.state.list().find((l) => l.licname === "changed-since");
    expect(placed).toBeDefined();
    // Read into the register (as a night's sync would), then moved to Business before the order settles.
    expect((await h.call("GET", `/licenses/${placed?.id}?refresh=true`)).status).toBe(200);
    const moved = await change(placed?.id ?? "", { product: "ispmanager5-business" }, "chg-after-order");
    expect(moved.status).toBe(200);
    h.advance(SETTLE_MS);
    const settled = await h.call("POST", "/licenses", { body, key: "order-then-change" });
    expect(settled).toMatchObject({ status: 201, body: { id: placed?.id } });
    expect(h.vendor.calls("soft.order.param")).toBeGreaterThan(0);
    expect(
      h.vendor.sandbox.state.charges().filter((c) => c.func === "soft.order.param" && c.elid === placed?.id),
    ).toHaveLength(1);
  });

  it("a change whose evidence cannot decide goes to staff in words about the tariff, and the licence stays held", async () => {
    const licence = await lite({ period: 1 });
    await h.vendor.fault("service.changepricelist", "drop", 1);
    expect((await change(licence.id, { product: "ispmanager5-business" }, "chg-undecided")).status).toBe(504);
    // Meanwhile the panel moves it to Business with 3 nodes: neither before (Lite) nor what was asked (1 node).
    h.vendor.sandbox.state.changeTariff(licence.id, { pricelist: "4601", addons: { addon_4602: "3" } });
    h.advance(SETTLE_MS);
    const answer = await change(licence.id, { product: "ispmanager5-business" }, "chg-undecided");
    expect(answer).toMatchObject({ status: 409, body: { error: { code: "outcome_pending" } } });
    const renewal = await h.call("POST", `/licenses/${licence.id}/renew`, {
      body: { period: 1 },
      key: "renew-held",
    });
    expect(renewal.body.error.code).toBe("renewal_in_flight");
    const { handler } = await import("../../functions/reconciler.ts");
    await handler(undefined, { getRemainingTimeInMillis: () => 300_000 });
    const mail = readFileSync(join(outboxDir, "outbox.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { kind: string; body: string })
      .find((m) => m.kind === "outcome_undecided" && m.body.includes(`change of licence ${licence.id}`));
    expect(mail?.body).toContain(
      `The change of licence ${licence.id} to ispmanager5-business was sent to the vendor`,
    );
    expect(mail?.body).toContain("Tariff the vendor shows now:                 4601/3");
    expect(mail?.body).toContain(`look at licence ${licence.id}'s tariff history`);
    expect(mail?.body).not.toMatch(/undefined|"licenceId": the licence it placed/);
  });

  it("throttled at the door (429): 503 with Retry-After, nothing charged; the same key then changes it once", async () => {
    const licence = await lite();
    await h.vendor.fault("service.changepricelist", "throttle", 1, 1000);
    const [callsBefore, chargesBefore] = [changes(), charged().length];
    const throttled = await change(licence.id, { product: "ispmanager5-business" }, "chg-429");
    expect(throttled).toMatchObject({ status: 503, body: { error: { code: "upstream_throttled" } } });
    expect(throttled.headers["retry-after"]).toBeDefined();
    expect(charged().length).toBe(chargesBefore);
    const retried = await change(licence.id, { product: "ispmanager5-business" }, "chg-429");
    expect(retried).toMatchObject({ status: 200, body: { product: "ispmanager5-business" } });
    expect([changes() - callsBefore, charged().length - chargesBefore]).toEqual([2, 1]);
  });

  it("the vendor acts late, after the desk gave up: 504, pending in the window, then settled applied; one charge", async () => {
    const licence = await lite();
    await h.vendor.fault("service.changepricelist", "act-late", 1, 200);
    const [callsBefore, chargesBefore] = [changes(), charged().length];
    const lost = await change(licence.id, { product: "ispmanager5-business" }, "chg-late");
    expect(lost).toMatchObject({ status: 504, body: { outcome: "unknown" } });
    // The vendor acts on its own timer, well inside the settle window: never read as "not applied".
    await expect.poll(() => charged().length, { interval: 20 }).toBe(chargesBefore + 1);
    expect((await change(licence.id, { product: "ispmanager5-business" }, "chg-late")).status).toBe(409);
    h.advance(SETTLE_MS);
    const settled = await change(licence.id, { product: "ispmanager5-business" }, "chg-late");
    expect(settled).toMatchObject({ status: 200, body: { product: "ispmanager5-business" } });
    expect([changes() - callsBefore, charged().length - chargesBefore]).toEqual([1, 1]);
  });

  it("ISPmanager 6 Lite to Pro, and no ISPmanager 5 tariff once its sales have closed", async () => {
    const five = await lite();
    const six = await h.call("POST", `/licenses/${five.id}/successor`, {
      body: { period: 12, retireOld: "never" },
      key: "chg-six",
    });
    expect(six.status).toBe(201);
    const pro = await change(six.body.id, { product: "ispmanager6-pro" }, "chg-pro");
    expect(pro).toMatchObject({ status: 200, body: { product: "ispmanager6-pro", pricelist: "55228" } });
    expect(charged().slice(-1)).toEqual([11000 - 7000]);
    // 2021-06-15: ISPmanager 5 sales close, and with them its tariffs.
    h.advance(46 * 86_400_000);
    const before = changes();
    const closed = await change(five.id, { product: "ispmanager5-business" }, "chg-closed");
    expect(closed).toMatchObject({ status: 422, body: { error: { code: "lifecycle_closed" } } });
    expect(changes()).toBe(before);
  });
});
