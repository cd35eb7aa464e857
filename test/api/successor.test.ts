import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type ApiHarness, apiHarness } from "../support/api.ts";
import { liteOrder } from "../support/fixtures.ts";

/**
 * `POST /licenses/{id}/successor` over real HTTP against the sandbox and DynamoDB Local: an ISPmanager 6
 * licence ordered on an ISPmanager 5 licence's IP, under the outcome model exactly as an order, counting
 * the vendor's orders, deletes and charges.
 */
let h: ApiHarness;
const outboxDir = mkdtempSync(join(tmpdir(), "desk-outbox-"));
const outbox = join(outboxDir, "outbox.jsonl");
beforeAll(async () => {
  h = await apiHarness({ now: "2021-05-01", env: { BILLMGR_TIMEOUT_MS: "400", OUTBOX_FILE: outbox } });
});
afterAll(async () => {
  await h.close();
  rmSync(outboxDir, { recursive: true, force: true });
});
beforeEach(() => h.vendor.sandbox.faults.clear());

const SETTLE_MS = 900_000;
const orders = () => h.vendor.calls("soft.order.param");
const deletes = () => h.vendor.calls("soft.delete");
const balance = () => h.vendor.sandbox.state.balanceMinor;
const charges = () => h.vendor.sandbox.state.charges().filter((c) => c.func === "soft.order.param");

async function five(extra: Record<string, unknown> = {}) {
  const answer = await h.call("POST", "/licenses", {
    body: liteOrder({ autoRenew: 12, ...extra }),
    key: crypto.randomUUID(),
  });
  expect(answer.status).toBe(201);
  return answer.body as { id: string; ip: string; name: string };
}
const successor = (id: string, body: Record<string, unknown>, key: string) =>
  h.call("POST", `/licenses/${id}/successor`, { body, key });

describe("a successor ordered through the API", () => {
  it("is the catalogue's successor on the same IP and name, linked both ways, charged once however often it is retried", async () => {
    const old = await five({ name: "shop-5" });
    const [ordersBefore, balanceBefore] = [orders(), balance()];
    const placed = await successor(old.id, { period: 12 }, "succ-1");
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({
      ip: old.ip,
      name: "shop-5",
      product: "ispmanager6-lite",
      pricelist: "55227",
      autoRenew: 12,
      predecessorId: old.id,
      expiresOn: "2022-05-01",
    });
    expect(orders() - ordersBefore).toBe(1);
    expect(balance()).toBe(balanceBefore - 7000);
    // The old licence runs on, to be retired after its expiry (the default), and names its successor.
    const oldNow = (await h.call("GET", `/licenses/${old.id}`)).body;
    expect(oldNow).toMatchObject({
      status: "active",
      successorId: placed.body.id,
      retireOld: "after_expiry",
    });

    // Replayed by key: the same answer, nothing sent.
    const replay = await successor(old.id, { period: 12 }, "succ-1");
    expect(replay.status).toBe(201);
    expect(replay.headers["idempotent-replayed"]).toBe("true");
    expect(replay.body).toEqual(placed.body);
    // A second successor under a new key: refused, nothing sent or charged.
    const second = await successor(old.id, { period: 1 }, "succ-2");
    expect(second).toMatchObject({
      status: 409,
      body: { error: { code: "successor_exists", details: { successorId: placed.body.id } } },
    });
    expect(orders() - ordersBefore).toBe(1);
    expect(balance()).toBe(balanceBefore - 7000);
  });

  it("retireOld now: the old licence is deleted at the vendor right after the successor is placed", async () => {
    const old = await five();
    const before = deletes();
    const placed = await successor(old.id, { period: 1, retireOld: "now" }, "succ-now");
    expect(placed.status).toBe(201);
    expect(deletes() - before).toBe(1);
    expect((await h.call("GET", `/licenses/${old.id}`)).body).toMatchObject({
      status: "deleted",
      retiredOn: "2021-05-01",
      successorId: placed.body.id,
    });
    expect(h.vendor.sandbox.state.get(old.id)?.status).toBe("4");
    expect(h.vendor.sandbox.state.get(placed.body.id)?.status).toBe("2");
    // Replayed: nothing deleted or ordered again.
    const [o, d] = [orders(), deletes()];
    await successor(old.id, { period: 1, retireOld: "now" }, "succ-now");
    expect([orders(), deletes()]).toEqual([o, d]);
  });

  it("Business carries its nodes over to ISPmanager 6 Business", async () => {
    const old = await five({ product: "ispmanager5-business", nodes: 3, period: 12 });
    const before = balance();
    const placed = await successor(old.id, { period: 1, retireOld: "never" }, "succ-business");
    expect(placed.body).toMatchObject({ product: "ispmanager6-business", nodes: 3 });
    expect(balance()).toBe(before - (1600 + 3 * 300));
    expect((await h.call("GET", `/licenses/${old.id}`)).body).toMatchObject({ retireOld: "never" });
  });

  it("its answer lost: 504 unknown, settled after the window from the vendor's book, one order in all", async () => {
    const old = await five({ name: "lost-answer" });
    await h.vendor.fault("soft.order.param", "act-then-drop", 1);
    const [ordersBefore, chargesBefore] = [orders(), charges().length];
    const lost = await successor(old.id, { period: 12 }, "succ-lost");
    expect(lost).toMatchObject({ status: 504, body: { outcome: "unknown" } });
    // Another successor meanwhile: the IP's ISPmanager 6 order slot is held, nothing is sent.
    const meanwhile = await successor(old.id, { period: 1 }, "succ-lost-other");
    expect(meanwhile).toMatchObject({ status: 409, body: { error: { code: "order_in_flight" } } });
    h.advance(SETTLE_MS);
    const settled = await successor(old.id, { period: 12 }, "succ-lost");
    expect(settled.status).toBe(201);
    expect(settled.body).toMatchObject({
      ip: old.ip,
      name: "lost-answer",
      product: "ispmanager6-lite",
      predecessorId: old.id,
    });
    expect([orders(), charges().length]).toEqual([ordersBefore + 1, chargesBefore + 1]);
    expect((await h.call("GET", `/licenses/${old.id}`)).body.successorId).toBe(settled.body.id);
  });

  it("its answer lost and no retry: the scheduled reconciler settles it from the order it kept, and links the two", async () => {
    const { handler } = await import("../../functions/reconciler.ts");
    const lambda = { getRemainingTimeInMillis: () => 300_000 };
    const old = await five({ name: "reconciled-v6" });
    await h.vendor.fault("soft.order.param", "act-then-drop", 1);
    const before = orders();
    const lost = await successor(old.id, { period: 1, retireOld: "now" }, "succ-reconciled");
    expect(lost.status).toBe(504);
    // Renamed meanwhile: the evidence is the order as it was sent, under the name it was sent with.
    await h.call("PATCH", `/licenses/${old.id}`, { body: { name: "renamed-meanwhile" } });
    h.advance(SETTLE_MS);
    expect((await handler(undefined, lambda)).settled).toBeGreaterThanOrEqual(1);
    const placed = h.vendor.sandbox.state.list().find((l) => l.ip === old.ip && l.pricelist === "55227");
    expect(placed?.licname).toBe("reconciled-v6");
    expect((await h.call("GET", `/licenses/${old.id}`)).body).toMatchObject({
      successorId: placed?.id,
      status: "deleted",
      retiredOn: "2021-05-01",
    });
    expect((await h.call("GET", `/licenses/${placed?.id}`)).body.predecessorId).toBe(old.id);
    // Staff hear of it as of any order settled as placed.
    expect(existsSync(outbox) && readFileSync(outbox, "utf8")).toContain(
      `settled as placed: licence ${placed?.id}`,
    );
    const retry = await successor(old.id, { period: 1, retireOld: "now" }, "succ-reconciled");
    expect(retry).toMatchObject({ status: 201, body: { id: placed?.id } });
    expect(orders() - before).toBe(1);
  });

  it("refused with nothing sent: a deleted licence, a product of the same generation, an unknown one, a bad retireOld", async () => {
    const gone = await five();
    await h.call("DELETE", `/licenses/${gone.id}`);
    const alive = await five();
    const before = orders();
    expect(await successor(gone.id, { period: 12 }, "succ-gone")).toMatchObject({
      status: 409,
      body: { error: { code: "licence_deleted" } },
    });
    const same = await successor(alive.id, { period: 12, product: "ispmanager5-business" }, "succ-same");
    expect(same).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    expect(same.body.error.details.fields.product).toMatch(
      /later generation than ispmanager5-lite \(ispmanager5\)/,
    );
    const unknown = await successor(alive.id, { period: 12, product: "ispmanager9-lite" }, "succ-unknown");
    expect(unknown.body.error.details.fields.product).toMatch(/is not in the catalogue/);
    const bad = await successor(alive.id, { period: 12, retireOld: "later" }, "succ-bad");
    expect(bad).toMatchObject({
      status: 400,
      body: { error: { details: { fields: { retireOld: "must be after_expiry, now or never" } } } },
    });
    const missing = await h.call("POST", `/licenses/${alive.id}/successor`, { body: { period: 12 } });
    expect(missing.status).toBe(400);
    expect(orders()).toBe(before);
    // Refused calls free their keys: the same key with a good request orders it.
    const ok = await successor(alive.id, { period: 12, product: "ispmanager6-pro" }, "succ-same");
    expect(ok).toMatchObject({ status: 201, body: { product: "ispmanager6-pro", predecessorId: alive.id } });
  });

  it("a successor planned with PATCH: kept on the licence and shown by GET; dropped with null; refused with nothing sent when it cannot be", async () => {
    const old = await five();
    const before = h.vendor.sandbox.calls.length;
    const planned = await h.call("PATCH", `/licenses/${old.id}`, {
      body: { successor: { period: 12, on: "2021-12-01" } },
    });
    expect(planned.status).toBe(200);
    expect(planned.body.successorPlan).toEqual({ period: 12, on: "2021-12-01", retireOld: "after_expiry" });
    expect((await h.call("GET", `/licenses/${old.id}`)).body.successorPlan).toEqual(
      planned.body.successorPlan,
    );
    const badProduct = await h.call("PATCH", `/licenses/${old.id}`, {
      body: { successor: { period: 12, product: "ispmanager5-business" } },
    });
    expect(badProduct.status).toBe(400);
    expect(badProduct.body.error.details.fields["successor.product"]).toMatch(/later generation/);
    const past = await h.call("PATCH", `/licenses/${old.id}`, {
      body: { successor: { period: 12, on: "2021-04-30" } },
    });
    expect(past.body.error.details.fields["successor.on"]).toMatch(/today \(2021-05-01\) or later/);
    const dropped = await h.call("PATCH", `/licenses/${old.id}`, { body: { successor: null } });
    expect(dropped.body.successorPlan).toBeNull();
    // Nothing of it reaches the vendor.
    expect(h.vendor.sandbox.calls.length).toBe(before);
    // One with a live successor: a plan is refused.
    const placed = await successor(old.id, { period: 1, retireOld: "never" }, "succ-then-plan");
    expect(placed.status).toBe(201);
    const again = await h.call("PATCH", `/licenses/${old.id}`, { body: { successor: { period: 1 } } });
    expect(again).toMatchObject({ status: 409, body: { error: { code: "successor_exists" } } });
  });
});
