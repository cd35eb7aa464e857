import { afterEach, describe, expect, it } from "vitest";
import { runNight } from "../../shared/domain/night/night.ts";
import {
  arrayNotifier,
  fleetLicence,
  Killed,
  type KillPoint,
  mortal,
  type WatchHarness,
  watchHarness,
} from "../support/watcher.ts";

/**
 * The summary tells the night, not the last run's own sync: a night killed at any point and run again
 * says how many licences the night found new, changed and gone, counted once, and never counts the
 * night's own renewals (applied by the dead run, seen by the rerun's sync) as changes at the vendor.
 * The runs' leases move on an injected clock: nothing sleeps.
 */
const NIGHT = "2021-05-17";
const AT = new Date(`${NIGHT}T02:00:00Z`);
const harnesses: WatchHarness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

describe("a killed night's rerun tells the whole night's sync", () => {
  it.each([
    { at: "register.nights.noteSync", nth: 1, when: "before" },
    { at: "billing.prolong", nth: 3, when: "after" },
    { at: "billing.get", nth: 12, when: "after" },
    { at: "notifier.send", nth: 1, when: "before" },
  ] satisfies KillPoint[])("killed at $at #$nth ($when)", async (kill) => {
    const clock = { ms: Date.parse("2026-01-01T00:00:00Z") };
    const notifier = arrayNotifier();
    const h = await watchHarness({ now: NIGHT, notifier, balanceMinor: 10_000_000, lockMs: 60_000 });
    harnesses.push(h);
    // 30 licences due tonight: 15 the register knows, 15 only the vendor (new tonight).
    for (let i = 0; i < 30; i++) {
      const licence = fleetLicence({
        name: `auto-${i}`,
        ip: `82.158.0.${i + 1}`,
        expiredate: `2021-05-${18 + (i % 3)}`,
        autoRenew: 1,
      });
      if (i % 2 === 0) h.seedVendorOnly(licence);
      else await h.seed(licence);
    }
    h.vendor.sandbox.setNow(AT);
    const deps = { ...h.deps, nowMs: () => clock.ms };
    const m = mortal(deps, kill);
    await expect(runNight(m.deps, NIGHT, AT)).rejects.toBeInstanceOf(Killed);
    await m.settled();
    clock.ms += 120_000; // past every lease the dead run held
    await runNight(deps, NIGHT, AT);
    const summary = notifier.sent.find((a) => a.kind === "summary");
    const sync = summary?.body.split("\n").find((line) => line.startsWith("Sync: ")) ?? "";
    expect(sync).toMatch(
      /^Sync: 30 licences listed by the vendor; 15 new \(first seen at the vendor, not ordered through the desk\): /,
    );
    // Each named once, those the register knew not at all; nothing changed or gone.
    for (let i = 0; i < 30; i++)
      expect(sync.split(`auto-${i} (id`).length - 1, `auto-${i}`).toBe(i % 2 === 0 ? 1 : 0);
    expect(sync).not.toMatch(/changed|gone/);
    // The 15 the register knew were set to renew (those new tonight start with autoRenew off), each once
    // at most: a renewal the dead run marked sent but never sent is settled as not applied, for tomorrow.
    const charged = h.vendor.sandbox.state.charges().map((c) => c.elid);
    expect(new Set(charged).size).toBe(charged.length);
    expect(charged.length).toBeGreaterThanOrEqual(15 - 4);
    expect(charged.length).toBeLessThanOrEqual(15);
  });
});
