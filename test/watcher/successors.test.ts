import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DeskDeps } from "../../shared/domain/licences/context.ts";
import { licenceDesk } from "../../shared/domain/licences/desk.ts";
import { runNight } from "../../shared/domain/night/night.ts";
import {
  fleetLicence,
  Killed,
  type KillPoint,
  mortal,
  type WatchHarness,
  watchHarness,
} from "../support/watcher.ts";

/**
 * A licence succeeded by an ISPmanager 6 licence on its IP, through the nights: never renewed again,
 * never warned about as if it needed renewing, and deleted at the vendor from the first night after its
 * expiry, once (reruns and concurrent runs delete nothing more), and only while its successor runs.
 */
let h: WatchHarness;
beforeEach(async () => {
  h = await watchHarness({ now: "2021-05-01", tablePrefix: "successors" });
});
afterEach(() => h.close());

const deskDeps = (overrides: Partial<DeskDeps> = {}): DeskDeps => ({
  billing: h.billing,
  register: h.register,
  catalogue: h.deps.catalogue,
  idempotency: { ttlSeconds: 48 * 3600, lockMs: 120_000, settleMs: 900_000 },
  nowMs: h.deps.nowMs,
  ...overrides,
});
const deletes = () => h.vendor.calls("soft.delete");
const sent = (kind: string) =>
  (h.notifier as unknown as { sent: { kind: string; licenceId: string | null }[] }).sent.filter(
    (a) => a.kind === kind,
  );

/** An ISPmanager 5 Lite licence expiring 2021-05-10, set to renew, and its successor ordered. */
async function succeeded(
  retireOld: "after_expiry" | "now" | "never" = "after_expiry",
  overrides: Partial<DeskDeps> = {},
) {
  const id = await h.seed(
    fleetLicence({ name: "moving", ip: "10.6.0.1", expiredate: "2021-05-10", autoRenew: 1 }),
  );
  const desk = licenceDesk(deskDeps(overrides), { client: "panel", now: new Date("2021-05-01T12:00:00Z") });
  const answer = await desk.successor(id, { period: 12, retireOld }, `successor-${id}`);
  if (answer.outcome !== "applied") throw new Error("the successor was not placed");
  return { id, successorId: answer.licence.id };
}

describe("a succeeded licence through the nights", () => {
  it("is never renewed nor warned about, and is retired once, the first night after its expiry", async () => {
    const { id, successorId } = await succeeded();
    // Due (within the lead) and set to renew: not renewed, no expiry warning.
    const due = await h.run("2021-05-08");
    expect(due.renewed).toEqual([]);
    expect(h.prolongs()).toBe(0);
    expect(sent("expiry").filter((a) => a.licenceId === id)).toEqual([]);
    // Its expiry day: it still runs.
    await h.run("2021-05-10");
    expect(deletes()).toBe(0);

    const after = await h.run("2021-05-11");
    expect(after.retired).toEqual([{ id, name: "moving", successorId }]);
    expect(deletes()).toBe(1);
    expect(h.vendor.sandbox.state.get(id)?.status).toBe("4");
    expect(h.vendor.sandbox.state.get(successorId)?.status).toBe("2");
    expect(await h.record(id)).toMatchObject({ status: "deleted", retiredOn: "2021-05-11", successorId });
    expect(sent("licence_retired").map((a) => a.licenceId)).toEqual([id]);
    // Never told as the vendor's deletion.
    expect(sent("vendor_deleted")).toEqual([]);

    // A rerun of that night, and the next: nothing deleted or told again.
    const rerun = await h.run("2021-05-11");
    expect(rerun.retired).toEqual([]);
    await h.run("2021-05-12");
    expect(deletes()).toBe(1);
    expect(sent("licence_retired")).toHaveLength(1);
    expect(sent("vendor_deleted")).toEqual([]);
  });

  it("two runs of the night at once retire it once", async () => {
    const { id } = await succeeded();
    const at = new Date("2021-05-11T02:00:00Z");
    h.vendor.sandbox.setNow(at);
    const reports = await Promise.all([
      runNight(h.deps, "2021-05-11", at),
      runNight(h.deps, "2021-05-11", at),
    ]);
    expect(reports.flatMap((r) => r.retired.map((x) => x.id))).toEqual([id]);
    expect(deletes()).toBe(1);
  });

  it("kept while its successor does not run, staff told once; retired once it runs", async () => {
    const { id, successorId } = await succeeded();
    await h.billing.suspend(successorId);
    const held = await h.run("2021-05-11");
    expect(held.retired).toEqual([]);
    expect(held.retireHeld).toMatchObject([{ id, why: expect.stringContaining("suspended") }]);
    expect(deletes()).toBe(0);
    expect((await h.record(id))?.status).not.toBe("deleted");
    await h.run("2021-05-12");
    expect(sent("retire_held").map((a) => a.licenceId)).toEqual([id]);

    await h.billing.resume(successorId);
    const retired = await h.run("2021-05-13");
    expect(retired.retired.map((r) => r.id)).toEqual([id]);
    expect(deletes()).toBe(1);
  });

  it("retireOld never: left alone, and renewed as set", async () => {
    const { id } = await succeeded("never");
    const due = await h.run("2021-05-08");
    expect(due.renewed.map((r) => r.id)).toEqual([id]);
    await h.run("2021-06-20");
    expect(deletes()).toBe(0);
  });

  it("a retirement whose vendor delete failed is finished by the next night, and told once", async () => {
    const { id } = await succeeded();
    await h.vendor.fault("soft.delete", "http500", 1);
    const failed = await h.run("2021-05-11");
    expect(failed.retired).toEqual([]);
    // Marked for retirement, still at the vendor (suspended there for non-payment since its expiry).
    expect(await h.record(id)).toMatchObject({ status: "suspended", retiredOn: "2021-05-11" });
    const next = await h.run("2021-05-12");
    expect(next.retired.map((r) => r.id)).toEqual([id]);
    expect(deletes()).toBe(2);
    expect(h.vendor.sandbox.state.get(id)?.status).toBe("4");
    expect(await h.record(id)).toMatchObject({ status: "deleted", retiredOn: "2021-05-11" });
    expect(sent("licence_retired")).toHaveLength(1);
  });

  it("retireOld now, its successor not running when placed: kept until it runs, then retired by a night", async () => {
    // The vendor suspends the new licence as soon as it is placed (in its panel, say).
    const billing = {
      ...h.billing,
      async order(...args: Parameters<typeof h.billing.order>) {
        const placed = await h.billing.order(...args);
        await h.billing.suspend(placed.id);
        return placed;
      },
    };
    const { id, successorId } = await succeeded("now", { billing });
    expect(deletes()).toBe(0);
    expect((await h.record(id))?.status).toBe("active");
    const held = await h.run("2021-05-02");
    expect(held.retireHeld.map((r) => r.id)).toEqual([id]);
    expect(sent("retire_held")).toHaveLength(1);
    await h.billing.resume(successorId);
    const retired = await h.run("2021-05-03");
    expect(retired.retired.map((r) => r.id)).toEqual([id]);
    expect(deletes()).toBe(1);
  });

  it("a link the register cannot write leaves the call open: the retry links it, and the night never renews the old one", async () => {
    let failLinks = true;
    const register = {
      ...h.register,
      licences: {
        ...h.register.licences,
        async update(...args: Parameters<typeof h.register.licences.update>) {
          if (failLinks && "successorId" in args[1]) throw new Error("throttled");
          return h.register.licences.update(...args);
        },
      },
    };
    const id = await h.seed(
      fleetLicence({ name: "unlinked", ip: "10.6.0.2", expiredate: "2021-05-10", autoRenew: 1 }),
    );
    const desk = () =>
      licenceDesk(deskDeps({ register }), { client: "panel", now: new Date("2021-05-01T12:00:00Z") });
    const orders = () => h.vendor.calls("soft.order.param");
    const lost = await desk()
      .successor(id, { period: 12, retireOld: "after_expiry" }, "link-fails")
      .catch((error: unknown) => error as { code?: string; details?: Record<string, unknown> });
    expect(lost).toMatchObject({ code: "outcome_pending", details: { outcome: "applied", licenceId: id } });
    expect(orders()).toBe(1);
    failLinks = false;
    const retry = await desk().successor(id, { period: 12, retireOld: "after_expiry" }, "link-fails");
    expect(retry).toMatchObject({ outcome: "applied", replayed: true, licence: { predecessorId: id } });
    expect(orders()).toBe(1);
    expect((await h.record(id))?.successorId).toBe(retry.outcome === "applied" ? retry.licence.id : "?");
    const due = await h.run("2021-05-08");
    expect(due.renewed).toEqual([]);
    expect(h.prolongs()).toBe(0);
  });

  it("a successor deleted since: the old licence is succeeded no more, and renewed as set", async () => {
    const { id, successorId } = await succeeded();
    await licenceDesk(deskDeps(), { client: "panel", now: new Date("2021-05-02T12:00:00Z") }).delete(
      successorId,
    );
    expect(await h.record(id)).not.toHaveProperty("successorId");
    const due = await h.run("2021-05-08");
    expect(due.renewed.map((r) => r.id)).toEqual([id]);
  });

  it("a successor the vendor deleted: the night's sync unlinks the old one before deciding", async () => {
    const { id, successorId } = await succeeded();
    await h.billing.delete(successorId); // in the vendor's panel
    const due = await h.run("2021-05-08");
    expect(await h.record(id)).not.toHaveProperty("successorId");
    expect(due.renewed.map((r) => r.id)).toEqual([id]);
    expect(sent("vendor_deleted").map((a) => a.licenceId)).toEqual([successorId]);
  });
});

describe("a night retiring a succeeded licence, killed at one point, then run again", () => {
  const points: Array<[string, KillPoint]> = [
    [
      "after retiredOn was written, before the vendor's delete",
      { at: "billing.delete", nth: 1, when: "before" },
    ],
    ["after the vendor's delete, its answer lost", { at: "billing.delete", nth: 1, when: "after" }],
    [
      "after the vendor's delete, before the register said deleted",
      {
        at: "register.licences.update",
        nth: 1,
        when: "before",
        match: (args) => (args[1] as { status?: string }).status === "deleted",
      },
    ],
    [
      "at the licence_retired mail, before it left",
      {
        at: "notifier.send",
        nth: 1,
        when: "before",
        match: (args) => (args[0] as { kind: string }).kind === "licence_retired",
      },
    ],
  ];

  it.each(points)("killed %s: deleted once, marked deleted, told once", async (_, kill) => {
    const { id, successorId } = await succeeded();
    const at = new Date("2021-05-11T02:00:00Z");
    h.vendor.sandbox.setNow(at);
    const m = mortal(h.deps, kill);
    const outcome = await runNight(m.deps, "2021-05-11", at).then(
      () => "finished",
      (error: unknown) => error,
    );
    expect(m.died(), `died at ${kill.at}`).toBe(true);
    expect(outcome).toBeInstanceOf(Killed);
    await m.settled();
    h.advance(121_000);
    await runNight(h.deps, "2021-05-11", at);
    expect(h.vendor.sandbox.state.get(id)?.status).toBe("4");
    expect(h.vendor.sandbox.state.get(successorId)?.status).toBe("2");
    // Deleted once: a rerun that finds it deleted at the vendor sends no second delete.
    expect(deletes()).toBe(1);
    expect(await h.record(id)).toMatchObject({ status: "deleted", retiredOn: "2021-05-11", successorId });
    expect(sent("licence_retired").map((a) => a.licenceId)).toEqual([id]);
    expect(sent("vendor_deleted")).toEqual([]);
  });
});
