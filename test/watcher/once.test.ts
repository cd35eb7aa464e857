import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { FleetLicence } from "../../local/fleet.ts";
import { outboxNotifier } from "../../shared/adapters/outbox-notifier.ts";
import type { Alert } from "../../shared/domain/alerts/alerts.ts";
import { runNight } from "../../shared/domain/night/night.ts";
import {
  arrayNotifier,
  fleetLicence,
  readOutbox,
  tempDir,
  type WatchHarness,
  watchHarness,
} from "../support/watcher.ts";

/**
 * Nothing twice: a rerun of a night, and two runs of one night at once, renew each due licence once
 * (counted by the vendor sandbox) and send each alert once.
 */
const NIGHT = "2021-05-17";

/** On 2021-05-17: three licences due (each to the cap), two warned, one suspended by the vendor. */
const FLEET: FleetLicence[] = [
  fleetLicence({ name: "due-a", ip: "82.156.38.1", expiredate: "2021-05-20", autoRenew: 1 }),
  fleetLicence({ name: "due-b", ip: "82.156.38.2", expiredate: "2021-05-19", autoRenew: 1 }),
  fleetLicence({
    name: "due-cluster",
    ip: "82.156.38.3",
    pricelist: "4601",
    nodes: 2,
    expiredate: "2021-05-18",
    autoRenew: 1,
  }),
  fleetLicence({ name: "manual-3", ip: "82.156.38.4", expiredate: "2021-05-20" }),
  fleetLicence({ name: "manual-14", ip: "82.156.38.5", expiredate: "2021-05-31" }),
  fleetLicence({
    name: "held",
    ip: "82.156.38.6",
    period: 12,
    createdate: "2021-04-01",
    expiredate: "2022-04-01",
  }),
];
const DUE = ["due-a", "due-b", "due-cluster"];
/** 60.00 + 60.00 + (140.00 + 2 x 30.00). */
const DUE_COST = 6_000 + 6_000 + 14_000 + 2 * 3_000;
/** expiry x2, vendor_suspended, lifecycle x2 (29 days to the close: one 30-day alert per product), summary. */
const EXPECTED_KINDS = ["expiry", "expiry", "lifecycle", "lifecycle", "summary", "vendor_suspended"];

async function seedFleet(h: WatchHarness): Promise<void> {
  for (const licence of FLEET) await h.seed(licence);
  // Only at the vendor: the sync adds it (nothing to say about it).
  h.seedVendorOnly(fleetLicence({ name: "vendor-only", ip: "82.156.38.7", expiredate: "2021-07-10" }));
  // The vendor suspends `held` before tonight's run.
  h.vendor.sandbox.state.suspend(h.vendorLicence("held")?.id);
}

const ledgerKey = (a: Alert) => `${a.kind}|${a.ledger.subject}|${a.ledger.threshold}`;

const harnesses: WatchHarness[] = [];
const dirs: Array<() => void> = [];
afterAll(async () => {
  for (const h of harnesses) await h.close();
  for (const remove of dirs) remove();
});

describe("a rerun of the same night", () => {
  it("renews nothing again and sends nothing again (outbox lines and prolong calls do not grow)", async () => {
    const out = tempDir("desk-once-");
    dirs.push(out.remove);
    const file = join(out.dir, "outbox.jsonl");
    const h = await watchHarness({ now: NIGHT, notifier: outboxNotifier(file, () => {}) });
    harnesses.push(h);
    await seedFleet(h);
    const balance = h.vendor.sandbox.state.balanceMinor;

    const first = await h.run(NIGHT);
    expect(first.renewed.map((r) => [r.name, r.from, r.to, r.period, r.reason]).sort()).toEqual([
      ["due-a", "2021-05-20", "2021-12-31", 12, "due"],
      ["due-b", "2021-05-19", "2021-12-31", 12, "due"],
      ["due-cluster", "2021-05-18", "2021-12-31", 12, "due"],
    ]);
    expect(first.sync).toMatchObject({ listed: 7, added: 1, updated: 1 });
    expect(h.prolongs()).toBe(3);
    const lines = readOutbox(file);
    expect(lines.map((l) => l.kind).sort()).toEqual(EXPECTED_KINDS);
    expect(first.sent).toHaveLength(lines.length);
    expect(h.vendor.sandbox.state.balanceMinor).toBe(balance - DUE_COST);

    const rerun = await h.run(NIGHT);
    expect(h.prolongs()).toBe(3);
    expect(readOutbox(file)).toEqual(lines);
    expect(rerun.renewed).toEqual([]);
    expect(rerun.sent).toEqual([]);
    // Every alert due again is found in the ledger: `vendor_suspended` too, owed by the register's
    // suspension mark (the rerun's sync sees no change) and keyed by the day it was first seen.
    expect(rerun.alreadySent).toBe(lines.length);
    expect([rerun.failed, rerun.unknown, rerun.busy]).toEqual([[], [], []]);
    // The register already holds what the vendor lists: a rerun writes no licence.
    expect(rerun.sync).toMatchObject({ listed: 7, added: 0, updated: 0, gone: 0, unchanged: 7 });
    expect(rerun.syncWrites).toBe(0);
    expect(h.vendor.sandbox.state.balanceMinor).toBe(balance - DUE_COST);

    // And a third time, for good measure, after the vendor's clock has moved on within the night.
    h.vendor.sandbox.setNow(new Date(`${NIGHT}T05:00:00Z`));
    const third = await h.run(NIGHT);
    expect([third.renewed.length, third.sent.length, h.prolongs(), readOutbox(file).length]).toEqual([
      0,
      0,
      3,
      lines.length,
    ]);
  });
});

describe("two runs of one night at once", () => {
  it("renew each due licence exactly once and send each alert once, one summary", async () => {
    const notifier = arrayNotifier();
    const h = await watchHarness({ now: NIGHT, notifier });
    harnesses.push(h);
    await seedFleet(h);
    const balance = h.vendor.sandbox.state.balanceMinor;
    // A slow vendor keeps the first renewals in flight while the other run reaches them.
    h.vendor.sandbox.faults.add({ func: "service.prolong", kind: "slow", delayMs: 300, count: 3 });

    const at = new Date(`${NIGHT}T02:00:00Z`);
    h.vendor.sandbox.setNow(at);
    const reports = await Promise.all([runNight(h.deps, NIGHT, at), runNight(h.deps, NIGHT, at)]);

    expect(h.prolongs()).toBe(3);
    const renewed = reports.flatMap((r) => r.renewed.map((x) => x.name));
    expect(renewed.sort()).toEqual(DUE);
    for (const name of DUE) expect(h.vendorLicence(name)?.expiredate).toBe("2021-12-31");
    expect(h.vendor.sandbox.state.balanceMinor).toBe(balance - DUE_COST);
    // Whatever one run renewed, the other either found it in flight (busy) or already done.
    for (const report of reports) {
      expect(report.failed).toEqual([]);
      expect(report.unknown).toEqual([]);
    }

    const keys = notifier.sent.map(ledgerKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(notifier.sent.map((a) => a.kind).sort()).toEqual(EXPECTED_KINDS);
    expect(notifier.sent.filter((a) => a.kind === "summary")).toHaveLength(1);
    expect(reports[0].sent.length + reports[1].sent.length).toBe(notifier.sent.length);

    // Both again, at once: nothing more.
    const again = await Promise.all([runNight(h.deps, NIGHT, at), runNight(h.deps, NIGHT, at)]);
    expect(h.prolongs()).toBe(3);
    expect(again.flatMap((r) => [...r.renewed, ...r.sent])).toEqual([]);
    expect(notifier.sent).toHaveLength(EXPECTED_KINDS.length);
  });

  it("the night's one summary accounts for every licence renewed that night, whichever run sends it", async () => {
    // The runs race for the summary like everything else; the run that found the renewals in flight
    // (busy) finishes first and sends it. The summary must still tell staff what the night renewed.
    const notifier = arrayNotifier();
    const h = await watchHarness({ now: NIGHT, notifier });
    harnesses.push(h);
    await seedFleet(h);
    h.vendor.sandbox.faults.add({ func: "service.prolong", kind: "slow", delayMs: 300, count: 3 });
    const at = new Date(`${NIGHT}T02:00:00Z`);
    h.vendor.sandbox.setNow(at);
    const reports = await Promise.all([runNight(h.deps, NIGHT, at), runNight(h.deps, NIGHT, at)]);
    expect(h.prolongs()).toBe(3);
    expect(reports.flatMap((r) => r.renewed.map((x) => x.name)).sort()).toEqual(DUE);

    const summaries = notifier.sent.filter((a) => a.kind === "summary");
    expect(summaries).toHaveLength(1);
    const summary = summaries[0] as Alert;
    // Its "Renewed" section (a busy run lists the licences only among those expiring soon, with the
    // expiry they had before the other run renewed them).
    const renewedSection = summary.body.split("Renewed (")[1]?.split("Failed (")[0] ?? "";
    expect(summary.title).toMatch(/: 3 renewed,/);
    for (const name of DUE)
      expect(renewedSection, `the summary's Renewed section names ${name}`).toContain(name);
  });
});
