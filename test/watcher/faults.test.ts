import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../shared/domain/alerts/alerts.ts";
import { type NightReport, VendorUnreachableError } from "../../shared/domain/night/night.ts";
import { expectNoSecret } from "../support/secrets.ts";
import { arrayNotifier, fleetLicence, type WatchHarness, watchHarness } from "../support/watcher.ts";

/**
 * The vendor failing in the middle of a night: the rest of the fleet is processed, every failure is
 * alerted, and the next night catches up without paying twice.
 */
const harnesses: WatchHarness[] = [];
afterAll(async () => {
  for (const h of harnesses) await h.close();
});

async function harness(options: Parameters<typeof watchHarness>[0]) {
  const notifier = arrayNotifier();
  const h = await watchHarness({ notifier, ...options });
  harnesses.push(h);
  return { h, notifier };
}

const names = (items: Array<{ name: string }>) => items.map((i) => i.name).sort();
const kinds = (alerts: Alert[]) => alerts.map((a) => a.kind).sort();
const ofKind = (alerts: Alert[], kind: string) => alerts.filter((a) => a.kind === kind);

describe("faults on service.prolong in the middle of a night", () => {
  let h: WatchHarness;
  let notifier: ReturnType<typeof arrayNotifier>;
  const id = { http500: "", dropped: "", acted: "", fine: "", cluster: "" };
  let night1: NightReport;

  beforeAll(async () => {
    // One renewal at a time, so each queued fault meets a known licence (the register's expiry order).
    ({ h, notifier } = await harness({
      now: "2021-05-17",
      balanceMinor: 20_000,
      settings: { vendorConcurrency: 1 },
    }));
    const due = (name: string, ip: string, expiredate: string) =>
      fleetLicence({ name, ip, expiredate, autoRenew: 1 });
    // Each due on 2021-05-17 and renewed for 12 months (to the cap): Lite 60.00, the cluster 230.00.
    id.http500 = await h.seed(due("http500", "82.156.39.1", "2021-05-18"));
    id.dropped = await h.seed(due("dropped", "82.156.39.2", "2021-05-19"));
    id.acted = await h.seed(due("acted", "82.156.39.3", "2021-05-20"));
    id.fine = await h.seed(due("fine", "82.156.39.4", "2021-05-20"));
    id.cluster = await h.seed({
      ...due("cluster", "82.156.39.5", "2021-05-20"),
      pricelist: "4601",
      nodes: 3,
    });
    // The vendor answers 500 without acting; drops the connection without acting; acts, then drops it.
    for (const kind of ["http500", "drop", "act-then-drop"] as const)
      h.vendor.sandbox.faults.add({ func: "service.prolong", kind });
  });

  it("processes the rest of the fleet and alerts each failure with its reason", async () => {
    night1 = await h.run("2021-05-17");
    expect(names(night1.renewed)).toEqual(["fine"]);
    expect(names(night1.unknown)).toEqual(["acted", "dropped", "http500"]);
    // 200.00 - 60.00 (acted) - 60.00 (fine) leaves 80.00: the cluster's 230.00 is refused, nothing charged.
    expect(night1.failed).toEqual([
      { id: id.cluster, name: "cluster", reason: "Insufficient funds on the account balance" },
    ]);
    expect(h.prolongs()).toBe(5);
    expect(h.vendor.sandbox.state.balanceMinor).toBe(20_000 - 6_000 - 6_000);
    expect(h.vendorLicence("acted")?.expiredate).toBe("2021-12-31");
    expect(h.vendorLicence("http500")?.expiredate).toBe("2021-05-18");
    expect(h.vendorLicence("dropped")?.expiredate).toBe("2021-05-19");

    const sent = night1.sent;
    expect(
      ofKind(sent, "renewal_unknown")
        .map((a) => a.licenceId)
        .sort(),
    ).toEqual([id.acted, id.dropped, id.http500].sort());
    for (const alert of ofKind(sent, "renewal_unknown")) {
      expect(alert.severity).toBe("warning");
      expect(alert.body).toContain("may or may not have been charged");
    }
    const failed = ofKind(sent, "renewal_failed");
    expect(failed.map((a) => a.licenceId)).toEqual([id.cluster]);
    expect(failed[0]?.title).toBe("[licence desk] Renewal failed: cluster (82.156.39.5)");
    expect(failed[0]?.body).toContain(
      "The vendor refused tonight's renewal, so nothing was charged. Its reason: Insufficient funds on the account balance.",
    );
    // The balance is read after tonight's charges: 80.00 left, against what is due from tomorrow: the
    // cluster's 230.00 (refused tonight, tried again) and the three awaiting their outcome, 60.00 each,
    // whose register still shows the old expiry (counted until settled: never too little asked).
    expect(ofKind(sent, "low_balance")[0]?.title).toBe(
      "[licence desk] Balance short by 330.00 EUR for renewals due tomorrow (2021-05-18)",
    );
    // An unanswered renewal is no failure: it awaits its outcome (never sent again blindly).
    const summary = ofKind(sent, "summary")[0];
    expect(summary?.severity).toBe("warning");
    expect(summary?.title).toMatch(/Night 2021-05-17: 1 failed, top up \S+ EUR, 3 awaiting, 1 renewed/);
    expect(summary?.body).toContain("Awaiting the outcome, not failed (3):");
    expect(summary?.body).toContain(`cluster (id ${id.cluster}): Insufficient funds`);
    expect(night1.tonight).toEqual({ renewed: 1, failed: 1, awaiting: 3 });
  });

  it("a rerun of the night reconciles the unknown outcomes (settle window 0 here) and sends none of them again", async () => {
    const before = h.prolongs();
    const rerun = await h.run("2021-05-17");
    // The acted renewal is seen in the vendor's list (expiry moved): nothing to renew; its open outcome
    // is settled from the evidence (the exact expiry it leads to): applied, found by the rerun.
    expect(rerun.sync.updated).toBe(1);
    expect(rerun.renewedElsewhere.map((r) => [r.name, r.to])).toEqual([["acted", "2021-12-31"]]);
    // http500 and dropped: the key holds an unknown outcome; the rerun looks (the vendor's expiry did not
    // move) and does not send. Only the refused cluster, provably not charged, is tried again.
    expect(h.prolongs() - before).toBe(1);
    expect(rerun.renewed).toEqual([]);
    expect(names(rerun.failed)).toEqual(["cluster", "dropped", "http500"]);
    expect(rerun.failed.find((f) => f.name === "http500")?.reason).toMatch(
      /expiry is still 2021-05-18, .*it was not applied and nothing was charged/,
    );
    expect(h.vendor.sandbox.state.balanceMinor).toBe(8_000);
    // The night as the register tells it now: fine and acted renewed, the other three failed.
    expect(rerun.tonight).toEqual({ renewed: 2, failed: 3, awaiting: 0 });
  });

  it("a reconciled 'not applied' renewal found by a rerun is alerted as a failed renewal", async () => {
    // The rerun above recorded http500 and dropped as failed ("not applied"); staff were told only that
    // the outcome was unknown, and the rerun's summary is not sent again (one per night).
    const failedAlerts = ofKind(notifier.sent, "renewal_failed").map((a) => a.licenceId);
    expect(failedAlerts).toEqual(expect.arrayContaining([id.http500, id.dropped]));
  });

  it("the next night renews what failed, and never renews the one the vendor had acted on", async () => {
    h.vendor.sandbox.state.setBalance(h.vendor.sandbox.state.balanceMinor + 50_000);
    const before = h.prolongs();
    const night2 = await h.run("2021-05-18");
    expect(names(night2.renewed)).toEqual(["cluster", "dropped", "http500"]);
    expect([night2.failed, night2.unknown]).toEqual([[], []]);
    expect(h.prolongs() - before).toBe(3);
    for (const name of ["http500", "dropped", "acted", "fine", "cluster"])
      expect(h.vendorLicence(name)?.expiredate, name).toBe("2021-12-31");
    // Charged once each: 4 x 60.00 + 230.00 out of 200.00 + 500.00.
    expect(h.vendor.sandbox.state.balanceMinor).toBe(20_000 + 50_000 - 4 * 6_000 - 23_000);
    expect((await h.record(id.acted))?.expiresOn).toBe("2021-12-31");
    expect(kinds(night2.sent)).not.toContain("renewal_failed");
    expect(ofKind(night2.sent, "summary")[0]?.title).toMatch(/: (?!.*failed).*\b3 renewed\b/);
  });
});

/**
 * Two dropped answers on `soft.edit`, met by the sync's read of this licence's form (after the night's
 * renewals, whose own reads of their licences pass): BILLMGR_RETRIES=1, so the read fails.
 */
function armFormFaults(h: WatchHarness, id: string): void {
  const get = h.billing.get.bind(h.billing);
  let armed = false;
  h.deps.billing = {
    ...h.billing,
    async get(licenceId, opts) {
      if (licenceId === id && !armed) {
        armed = true;
        h.vendor.sandbox.faults.add({ func: "soft.edit", kind: "drop", count: 2 });
      }
      return get(licenceId, opts);
    },
  };
}

describe("faults on soft.edit", () => {
  it("a licence whose form cannot be read in the sync: kept from the list row, alerted, the rest renewed", async () => {
    // BILLMGR_RETRIES=1: two faults exhaust a read-only call.
    const { h } = await harness({ now: "2021-05-17" });
    await h.seed(fleetLicence({ name: "due", ip: "82.156.40.1", expiredate: "2021-05-20", autoRenew: 1 }));
    const newId = h.seedVendorOnly(
      fleetLicence({
        name: "new-cluster",
        ip: "82.156.40.2",
        pricelist: "4601",
        nodes: 3,
        expiredate: "2021-07-01",
      }),
    );
    armFormFaults(h, newId);

    const night = await h.run("2021-05-17");
    expect(night.sync).toMatchObject({ listed: 2, added: 1 });
    expect(names(night.renewed)).toEqual(["due"]);
    const syncFailed = ofKind(night.sent, "sync_failed");
    expect(syncFailed.map((a) => a.licenceId)).toEqual([newId]);
    expect(syncFailed[0]?.title).toBe(
      "[licence desk] Could not read new-cluster (82.156.40.2) from the vendor",
    );
    expect(syncFailed[0]?.body).toMatch(/Reason: \S/);
    expect(syncFailed[0]?.body).toContain("the next night reads it again");
    const kept = await h.record(newId);
    expect(kept).toMatchObject({
      name: "new-cluster",
      pricelist: "4601",
      expiresOn: "2021-07-01",
      autoRenew: null,
    });
    expect(kept?.key).toBeUndefined();
  });

  it("the next night reads the form it could not read (key and nodes reach the register)", async () => {
    const { h, notifier } = await harness({ now: "2021-05-17" });
    const newId = h.seedVendorOnly(
      fleetLicence({
        name: "new-cluster",
        ip: "82.156.41.2",
        pricelist: "4601",
        nodes: 3,
        expiredate: "2021-07-01",
      }),
    );
    armFormFaults(h, newId);
    await h.run("2021-05-17");
    expect(ofKind(notifier.sent, "sync_failed")).toHaveLength(1);

    const reads = h.vendor.calls("soft.edit");
    await h.run("2021-05-18");
    expect(h.vendor.calls("soft.edit") - reads, "soft.edit reads on the next night").toBeGreaterThan(0);
    const record = await h.record(newId);
    expect(record?.key).toBe(h.vendorLicence("new-cluster")?.key);
    expect(record?.nodes).toBe(3);
  });

  it("the read before a renewal fails: nothing sent, failed and alerted, renewed the next night", async () => {
    const { h } = await harness({ now: "2021-05-17" });
    const dueId = await h.seed(
      fleetLicence({ name: "due", ip: "82.156.42.1", expiredate: "2021-05-20", autoRenew: 1 }),
    );
    // Nothing changed at the vendor, so the sync reads no form: the renewal's own read meets the faults.
    h.vendor.sandbox.faults.add({ func: "soft.edit", kind: "http500", count: 2 });
    const night1 = await h.run("2021-05-17");
    expect(night1.sync).toMatchObject({ listed: 1, unchanged: 1 });
    expect(h.prolongs()).toBe(0);
    expect(night1.renewed).toEqual([]);
    expect(names(night1.failed)).toEqual(["due"]);
    const alert = ofKind(night1.sent, "renewal_failed")[0];
    expect(alert?.licenceId).toBe(dueId);
    expect(alert?.body).toMatch(
      /The desk did not send tonight's renewal, so nothing was charged\. Why: \S.*\.$/m,
    );

    const night2 = await h.run("2021-05-18");
    expect(night2.renewed.map((r) => [r.name, r.from, r.to])).toEqual([["due", "2021-05-20", "2021-12-31"]]);
    expect(h.prolongs()).toBe(1);
  });
});

describe("the vendor's list cannot be read", () => {
  it("alerts vendor_unreachable once (not again on a rerun), throws, renews nothing; a later run works", async () => {
    const { h, notifier } = await harness({ now: "2021-05-17" });
    await h.seed(fleetLicence({ name: "due", ip: "82.156.43.1", expiredate: "2021-05-20", autoRenew: 1 }));

    // BILLMGR_RETRIES=1: two failed attempts.
    h.vendor.sandbox.faults.add({ func: "soft", kind: "drop", count: 2 });
    const first = await h.run("2021-05-17").catch((e: unknown) => e);
    expect(first).toBeInstanceOf(VendorUnreachableError);
    expect((first as Error).message).toMatch(
      /^night 2021-05-17: the vendor's licence list could not be read: /,
    );
    expectNoSecret(first);
    expect(h.vendor.calls("soft")).toBe(2);
    expect(kinds(notifier.sent)).toEqual(["vendor_unreachable"]);
    const alert = notifier.sent[0] as Alert;
    expect(alert).toMatchObject({ severity: "critical", licenceId: undefined, night: "2021-05-17" });
    expect(alert.title).toBe("[licence desk] Nightly run 2021-05-17 could not reach the vendor");
    expect(alert.body).toContain("nothing was synced or renewed tonight.");
    expectNoSecret(alert);

    // The schedule retries: the vendor still down (this time a 500): no second alert.
    h.vendor.sandbox.faults.add({ func: "soft", kind: "http500", count: 2 });
    await expect(h.run("2021-05-17")).rejects.toBeInstanceOf(VendorUnreachableError);
    expect(notifier.sent).toHaveLength(1);
    expect(h.prolongs()).toBe(0);
    expect(h.vendor.calls("soft.edit")).toBe(0);

    // Back: the night runs as usual.
    const night = await h.run("2021-05-17");
    expect(names(night.renewed)).toEqual(["due"]);
    expect(ofKind(notifier.sent, "summary")).toHaveLength(1);
    expect(ofKind(notifier.sent, "vendor_unreachable")).toHaveLength(1);
  });
});

describe("a renewal whose form cannot be read after it", () => {
  it("is marked for its form and read by the same night's forms, not left for the next run", async () => {
    const { h } = await harness({ now: "2021-05-17", tablePrefix: "renewal-form" });
    const id = await h.seed(
      fleetLicence({ name: "due", ip: "82.156.41.1", expiredate: "2021-05-20", autoRenew: 1 }),
    );
    // The renewal's answer names no new expiry, and both tries of the read that would tell it are
    // throttled: the renewal is settled from the list, its form (key, nodes) still to read.
    h.vendor.sandbox.faults.add({ func: "service.prolong", kind: "no-expiry" });
    const get = h.billing.get.bind(h.billing);
    let reads = 0;
    h.deps.billing = {
      ...h.billing,
      async get(licenceId, opts) {
        // Its first read is the one before the renewal; the second, the one after it.
        if (licenceId === id && ++reads === 2)
          h.vendor.sandbox.faults.add({ func: "soft.edit", kind: "throttle", count: 2 });
        return get(licenceId, opts);
      },
    };
    const night = await h.run("2021-05-17");
    expect(names(night.renewed)).toEqual(["due"]);
    // Read before the renewal, after it (throttled), and by the forms phase after the renewals.
    expect(reads).toBe(3);
    expect(night.forms).toMatchObject({ read: 1, left: 0, throttled: false });
    expect((await h.record(id))?.formPending).toBeUndefined();
    expect((await h.record(id))?.expiresOn).toBe("2021-12-31");
  });
});
