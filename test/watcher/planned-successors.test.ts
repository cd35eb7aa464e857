import { afterEach, describe, expect, it } from "vitest";
import { licenceDesk } from "../../shared/domain/licences/desk.ts";
import type { PlannedSuccessorInput } from "../../shared/domain/licences/inputs.ts";
import { runNight } from "../../shared/domain/night/night.ts";
import type { WatcherSettings } from "../../shared/domain/night/night-types.ts";
import {
  fleetLicence,
  Killed,
  type KillPoint,
  ledgerKeys,
  mortal,
  type WatchHarness,
  watchHarness,
} from "../support/watcher.ts";

/**
 * Successors planned for a night (`PATCH /licenses/{id}` with `successor`, or the fleet-wide
 * `PLAN_SUCCESSORS`), ordered by the watcher on that night or the first after it, once per licence ever,
 * over real HTTP against the sandbox and DynamoDB Local, counting the vendor's orders and charges.
 */
let h: WatchHarness;
afterEach(() => h.close());

async function harness(options: { balanceMinor?: number; settings?: Partial<WatcherSettings> } = {}) {
  h = await watchHarness({ now: "2021-05-01", tablePrefix: "planned", ...options });
  return h;
}
const orders = () => h.vendor.calls("soft.order.param");
const orderCharges = () => h.vendor.sandbox.state.charges().filter((c) => c.func === "soft.order.param");
const sent = (kind: string) =>
  (h.notifier as unknown as { sent: { kind: string; licenceId: string | null; body: string }[] }).sent.filter(
    (a) => a.kind === kind,
  );
const desk = (today = "2021-05-01") =>
  licenceDesk(
    {
      billing: h.billing,
      register: h.register,
      catalogue: h.deps.catalogue,
      idempotency: h.deps.idempotency,
      nowMs: h.deps.nowMs,
    },
    { client: "panel", now: new Date(`${today}T12:00:00Z`), today },
  );
const plan = (id: string, successor: PlannedSuccessorInput | null) => desk().update(id, { successor });

/** An ISPmanager 5 Lite licence renewed by hand only, running to 2021-09-10. */
const manual = (name = "planned", ip = "10.7.0.1") =>
  h.seed(fleetLicence({ name, ip, expiredate: "2021-09-10", period: 12 }));

describe("a successor planned for a licence", () => {
  it("is ordered on its night, 14 days before the licence stops, once: reruns and later nights order nothing more", async () => {
    await harness();
    const id = await manual();
    const planned = await plan(id, { period: 12, retireOld: "after_expiry" });
    expect(planned.successorPlan).toEqual({ period: 12, retireOld: "after_expiry" });

    const eve = await h.run("2021-08-26");
    expect(eve.successorsOrdered).toEqual([]);
    expect(orders()).toBe(0);

    const night = await h.run("2021-08-27");
    expect(night.successorsOrdered).toHaveLength(1);
    const successorId = night.successorsOrdered[0]?.successorId ?? "";
    expect(orders()).toBe(1);
    expect(orderCharges().map((c) => c.amountMinor)).toEqual([7000]);
    const atVendor = h.vendor.sandbox.state.get(successorId);
    expect(atVendor).toMatchObject({ pricelist: "55227", ip: "10.7.0.1", licname: "planned" });
    expect(await h.record(id)).toMatchObject({
      successorId,
      retireOld: "after_expiry",
      successorPlan: { period: 12, retireOld: "after_expiry", orderedOn: "2021-08-27" },
    });
    expect(await h.record(successorId)).toMatchObject({ predecessorId: id, product: "ispmanager6-lite" });
    const told = sent("successor_ordered");
    expect(told.map((a) => a.licenceId)).toEqual([id]);
    expect(told[0]?.body).toContain(`New licence: ${successorId} (ispmanager6-lite)`);
    expect(told[0]?.body).toContain("watch-successor:");

    // A rerun of the night, and the nights after: nothing ordered or told again.
    expect((await h.run("2021-08-27")).successorsOrdered).toEqual([]);
    await h.run("2021-08-28");
    await h.run("2021-09-05");
    expect(orders()).toBe(1);
    expect(orderCharges()).toHaveLength(1);
    expect(sent("successor_ordered")).toHaveLength(1);
    // And it is retired after its expiry, as planned.
    const retired = await h.run("2021-09-11");
    expect(retired.retired.map((r) => r.id)).toEqual([id]);
  });

  it("two runs of its night at once order it once", async () => {
    await harness();
    const id = await manual();
    await plan(id, { period: 1, on: "2021-07-01", retireOld: "never" });
    const at = new Date("2021-07-01T02:00:00Z");
    h.vendor.sandbox.setNow(at);
    const reports = await Promise.all([
      runNight(h.deps, "2021-07-01", at),
      runNight(h.deps, "2021-07-01", at),
      runNight(h.deps, "2021-07-01", at),
    ]);
    expect(orders()).toBe(1);
    expect(orderCharges().map((c) => c.amountMinor)).toEqual([700]);
    expect(reports.flatMap((r) => r.successorsOrdered)).toHaveLength(1);
    expect(sent("successor_ordered")).toHaveLength(1);
    expect((await h.record(id))?.successorPlan?.orderedOn).toBe("2021-07-01");
  });

  it("a missed night is made up the first night after it", async () => {
    await harness();
    const id = await manual();
    await plan(id, { period: 12, on: "2021-06-01", retireOld: "after_expiry" });
    await h.run("2021-05-31");
    expect(orders()).toBe(0);
    const late = await h.run("2021-06-04");
    expect(late.successorsOrdered.map((s) => s.id)).toEqual([id]);
  });

  it("refused for money: nothing charged, staff told each night, ordered the night after the top-up", async () => {
    await harness({ balanceMinor: 500 });
    const id = await manual();
    await plan(id, { period: 12, on: "2021-06-01", retireOld: "after_expiry" });
    const short = await h.run("2021-06-01");
    expect(short.successorsFailed.map((f) => f.id)).toEqual([id]);
    expect(orderCharges()).toEqual([]);
    const failed = sent("successor_failed");
    expect(failed.map((a) => a.licenceId)).toEqual([id]);
    expect(failed[0]?.body).toMatch(/Top up the vendor account/);
    h.vendor.sandbox.state.setBalance(10_000);
    const next = await h.run("2021-06-02");
    expect(next.successorsOrdered.map((s) => s.id)).toEqual([id]);
    expect(orderCharges().map((c) => c.amountMinor)).toEqual([7000]);
  });

  it("not ordered for a licence suspended through the desk, nor once the plan is dropped", async () => {
    await harness();
    const suspended = await manual("held", "10.7.0.2");
    const dropped = await manual("dropped", "10.7.0.3");
    await plan(suspended, { period: 12, on: "2021-06-01", retireOld: "after_expiry" });
    await plan(dropped, { period: 12, on: "2021-06-01", retireOld: "after_expiry" });
    await desk().suspend(suspended);
    await plan(dropped, null);
    await h.run("2021-06-01");
    expect(orders()).toBe(0);
  });
});

describe("successors planned fleet-wide (PLAN_SUCCESSORS=on)", () => {
  it("plans one for each licence set to renew, ordered 14 days before it stops, for its renewal period; none for the others", async () => {
    await harness({ settings: { planSuccessors: true } });
    // Monthly, renewed automatically until renewals close on 2021-06-15, then it stops after 2021-07-10.
    const auto = await h.seed(
      fleetLicence({ name: "auto", ip: "10.8.0.1", expiredate: "2021-07-10", autoRenew: 1 }),
    );
    const byHand = await h.seed(fleetLicence({ name: "by-hand", ip: "10.8.0.2", expiredate: "2021-07-10" }));
    const optedOut = await h.seed(
      fleetLicence({ name: "opted-out", ip: "10.8.0.3", expiredate: "2021-07-10", autoRenew: 1 }),
    );
    await plan(optedOut, null);
    await h.run("2021-06-25");
    expect(orders()).toBe(0);
    const night = await h.run("2021-06-26");
    expect(night.successorsOrdered.map((s) => s.id)).toEqual([auto]);
    expect(orderCharges().map((c) => c.amountMinor)).toEqual([700]);
    expect(await h.record(auto)).toMatchObject({
      successorPlan: { period: 1, retireOld: "after_expiry", orderedOn: "2021-06-26" },
    });
    // Its successor renews as the licence did.
    const successorId = night.successorsOrdered[0]?.successorId ?? "";
    expect((await h.record(successorId))?.autoRenew).toBe(1);
    for (const id of [byHand, optedOut]) expect((await h.record(id))?.successorId).toBeUndefined();
    // Once carried out, never again, even should its successor be lost.
    await h.run("2021-06-27");
    expect(orders()).toBe(1);
  });
});

describe("mails about a licence with a planned successor", () => {
  it("name the plan, its product, price and night; the balance forecast counts it", async () => {
    await harness({ balanceMinor: 5000 });
    const id = await manual();
    await plan(id, { period: 12, on: "2021-06-03", retireOld: "after_expiry" });
    await h.run("2021-06-01");
    const short = sent("low_balance");
    expect(short).toHaveLength(1);
    expect(short[0]?.body).toContain(
      `2021-06-03 (in 2 days)  planned (id ${id}): its planned successor, ISPmanager 6 Lite, 12 months, 70.00 EUR`,
    );
    expect(short[0]?.body).toContain("The 1 successor order the watcher will make");
    expect(short[0]?.body).toContain("top up the vendor account by at least 20.00 EUR before 2021-06-03");
  });

  it("the lifecycle mail's line for the licence says the watcher orders its successor, and when", async () => {
    await harness();
    const id = await manual();
    await plan(id, { period: 12, retireOld: "after_expiry" });
    await h.run("2021-06-14");
    const mail = sent("lifecycle").find((a) => a.body.includes("renewals close on 2021-06-15"));
    expect(mail?.body).toContain(
      `planned (id ${id}, 10.7.0.1): renews only by hand (automatic renewal is off), on 2021-06-14 at the latest: ISPmanager 5 Lite renewals close the day after; the watcher orders its successor, ISPmanager 6 Lite for 12 months (70.00 EUR), on 2021-08-27, as planned`,
    );
  });
});

describe("a night ordering a planned successor, killed at one point, then run again", () => {
  const NIGHT = "2021-07-01";
  const AT = new Date(`${NIGHT}T02:00:00Z`);
  /** Past the desk's lock and every lease a dead run leaves. */
  const PAST_LEASES_MS = 121_000;
  const points: Array<[string, KillPoint]> = [
    ["before the IP check", { at: "billing.checkIp", nth: 1, when: "before" }],
    [
      "after claiming the order, before marking it sent",
      { at: "register.idempotency.markSent", nth: 1, when: "before" },
    ],
    ["after marking it sent, before it left", { at: "billing.order", nth: 1, when: "before" }],
    ["after the vendor placed it, the answer lost", { at: "billing.order", nth: 1, when: "after" }],
    [
      "after the successor was stored, before the old licence was linked",
      {
        at: "register.licences.update",
        nth: 1,
        when: "before",
        match: (args) => (args[1] as { successorId?: string }).successorId !== undefined,
      },
    ],
    [
      // The intent is applied at the vendor, its answer not built: the rerun still tells it.
      "right after the old licence was linked, before the order's answer was stored",
      {
        at: "register.licences.update",
        nth: 1,
        when: "after",
        match: (args) => (args[1] as { successorId?: string }).successorId !== undefined,
      },
    ],
    [
      "after the link, before the plan was marked carried out",
      {
        at: "register.licences.update",
        nth: 1,
        when: "before",
        match: (args) => (args[1] as { successorPlan?: unknown }).successorPlan !== undefined,
      },
    ],
    [
      "at the successor_ordered mail, before it left",
      {
        at: "notifier.send",
        nth: 1,
        when: "before",
        match: (args) => (args[0] as { kind: string }).kind === "successor_ordered",
      },
    ],
    ...[2, 5, 8, 11, 14].map((nth, i): [string, KillPoint] => {
      const when = i % 2 === 0 ? "before" : "after";
      return [`${when} its register write #${nth}`, { at: "register.write", nth, when }];
    }),
  ];

  it.each(points)(
    "killed %s: one order and one charge in all, linked, the plan carried out once, told once",
    async (_, kill) => {
      await harness({ settings: { vendorConcurrency: 1 } });
      const id = await manual();
      await plan(id, { period: 12, on: NIGHT, retireOld: "after_expiry" });
      h.vendor.sandbox.setNow(AT);
      const m = mortal(h.deps, kill);
      const outcome = await runNight(m.deps, NIGHT, AT).then(
        () => "finished",
        (error: unknown) => error,
      );
      expect(m.died(), `died at ${kill.at}`).toBe(true);
      expect(outcome).toBeInstanceOf(Killed);
      await m.settled();
      h.advance(PAST_LEASES_MS);
      await runNight(h.deps, NIGHT, AT);
      // An order marked sent that never left is settled as not placed (nothing charged), and ordered the next night.
      if ((await h.record(id))?.successorId === undefined) await h.run("2021-07-02");
      expect(orders(), "soft.order.param calls").toBe(1);
      expect(orderCharges().map((c) => c.amountMinor)).toEqual([7000]);
      const old = await h.record(id);
      expect(old?.successorId).toBeDefined();
      expect(old?.successorPlan?.orderedOn).toBeDefined();
      expect((await h.record(old?.successorId ?? ""))?.predecessorId).toBe(id);
      const told = sent("successor_ordered");
      // Once, or twice where the run died between the mail leaving and its being marked sent.
      expect(new Set(told.flatMap((a) => ledgerKeys(a as never))).size).toBe(1);
      expect(told.length).toBeLessThanOrEqual(2);
      // Nothing more, ever: the next nights order nothing.
      await h.run("2021-07-03");
      expect(orders()).toBe(1);
    },
  );
});
