import { afterAll, describe, expect, it } from "vitest";
import { registerRecord, seedInput } from "../../local/fleet.ts";
import type { Alert } from "../../shared/domain/alerts/alerts.ts";
import { licenceDesk } from "../../shared/domain/licences/desk.ts";
import { runNight } from "../../shared/domain/night/night.ts";
import { arrayNotifier, fleetLicence, type WatchHarness, watchHarness } from "../support/watcher.ts";

/**
 * The watcher's rules against what happens around it during a night: the API changing a licence while
 * the night runs, reruns of a night, licences we suspended, licences that cannot be renewed, keys that
 * arrive late. Vendor calls and charges counted by the sandbox.
 */
const harnesses: WatchHarness[] = [];
afterAll(async () => {
  for (const h of harnesses) await h.close();
});

async function harness(now: string, options: Partial<Parameters<typeof watchHarness>[0]> = {}) {
  const notifier = arrayNotifier();
  const h = await watchHarness({ now, notifier, ...options });
  harnesses.push(h);
  return { h, notifier };
}

/** The API's desk, as a reseller's panel would call it, at a given instant. */
const api = (h: WatchHarness, at: string) =>
  licenceDesk(
    {
      billing: h.billing,
      register: h.register,
      catalogue: h.deps.catalogue,
      idempotency: h.deps.idempotency,
    },
    { client: "billing-panel", now: new Date(at) },
  );

const ofKind = (alerts: Alert[], kind: string) => alerts.filter((a) => a.kind === kind);

describe("changes the API makes during the night (lost updates)", () => {
  it("a PATCH autoRenew: null between the sync and the renewal is honoured: nothing sent, warned as manual", async () => {
    const { h, notifier } = await harness("2021-05-17");
    const id = await h.seed(
      fleetLicence({ name: "due", ip: "82.156.60.1", expiredate: "2021-05-20", autoRenew: 1 }),
    );
    // The sync records its counts last, before the renewals: the reseller switches it off right then.
    const nights = h.deps.register.nights;
    const noteSync = nights.noteSync.bind(nights);
    nights.noteSync = async (night, sync) => {
      await noteSync(night, sync);
      await api(h, "2021-05-17T02:00:01Z").update(id, { autoRenew: null });
    };
    const night = await h.run("2021-05-17");
    expect(h.prolongs()).toBe(0);
    expect(night.renewed).toEqual([]);
    expect(night.failed).toEqual([]);
    expect((await h.record(id))?.autoRenew).toBeNull();
    // Decided again from a fresh read before anything was taken: not even attempted.
    expect(night.skipped).toEqual([]);
    expect((await h.register.nights.read("2021-05-17")).renewals).toEqual([]);
    // Decided from the fresh record: no longer renewed automatically, so warned like any manual one.
    expect(ofKind(notifier.sent, "expiry").map((a) => a.licenceId)).toEqual([id]);
    expect(ofKind(notifier.sent, "summary")[0]?.title).toMatch(/: (?!.*\d+ (?:renewed|failed))/);
  });

  it("a PATCH autoRenew: null made while the desk prepares the renewal stops it before sending", async () => {
    const { h } = await harness("2021-05-17");
    const id = await h.seed(
      fleetLicence({ name: "due", ip: "82.156.60.2", expiredate: "2021-05-20", autoRenew: 1 }),
    );
    const hold = h.register.idempotency.holdLicence.bind(h.register.idempotency);
    h.register.idempotency.holdLicence = async (licenceId, owner) => {
      await api(h, "2021-05-17T02:00:01Z").update(id, { autoRenew: null });
      return hold(licenceId, owner);
    };
    const night = await h.run("2021-05-17");
    expect(h.prolongs()).toBe(0);
    expect(night.skipped.map((s) => s.id)).toEqual([id]);
    expect(night.failed).toEqual([]);
    expect((await h.register.nights.read("2021-05-17")).renewals.map((r) => r.outcome)).toEqual(["skipped"]);
  });

  it("a PATCH autoRenew: null made while the sync reads the licence is not undone by the sync's write", async () => {
    const { h } = await harness("2021-05-17");
    const id = await h.seed(
      fleetLicence({ name: "renamed-later", ip: "82.156.60.3", expiredate: "2021-05-20", autoRenew: 1 }),
    );
    // Renamed in the vendor's panel: the sync reads its form and writes the new name.
    h.vendor.sandbox.state.edit(id, { licname: "renamed-now" });
    const get = h.billing.get.bind(h.billing);
    h.deps.billing = {
      ...h.billing,
      async get(licenceId, opts) {
        const form = await get(licenceId, opts);
        if (licenceId === id) await api(h, "2021-05-17T02:00:01Z").update(id, { autoRenew: null });
        return form;
      },
    };
    const night = await h.run("2021-05-17");
    expect(night.sync).toMatchObject({ updated: 1 });
    expect(await h.record(id)).toMatchObject({ name: "renamed-now", autoRenew: null });
    expect(h.prolongs()).toBe(0);
  });

  it("a suspend through the API after the sync read the licence is not undone by the sync's older view", async () => {
    const { h } = await harness("2021-05-17");
    const id = await h.seed(
      fleetLicence({ name: "suspended-now", ip: "82.156.60.4", expiredate: "2021-08-20" }),
    );
    // Renamed in the vendor's panel, so the sync reads its form; right after that read, the API suspends it.
    h.vendor.sandbox.state.edit(id, { licname: "renamed-too" });
    const get = h.billing.get.bind(h.billing);
    h.deps.billing = {
      ...h.billing,
      async get(licenceId, opts) {
        const form = await get(licenceId, opts);
        if (licenceId === id) await api(h, "2021-05-17T02:00:01Z").suspend(id);
        return form;
      },
    };
    await h.run("2021-05-17");
    expect(await h.record(id)).toMatchObject({ status: "suspended", suspendedBy: "desk" });
    // The next night reads the vendor again and brings the rename in, the suspension kept.
    h.deps.billing = h.billing;
    await h.run("2021-05-18");
    expect(await h.record(id)).toMatchObject({
      name: "renamed-too",
      status: "suspended",
      suspendedBy: "desk",
    });
  });
});

describe("licences new to the register", () => {
  it("are created from their list rows in batches; one an order writes meanwhile keeps the order's autoRenew", async () => {
    const { h } = await harness("2021-05-17");
    const fleet = Array.from({ length: 30 }, (_, i) =>
      fleetLicence({ name: `new-${i}`, ip: `82.156.61.${i + 1}`, expiredate: "2021-08-20" }),
    );
    const ids = fleet.map((licence) => h.seedVendorOnly(licence));
    const ordered = ids[7] as string;
    const writes: string[] = [];
    h.client.middlewareStack.add(
      (next, context) => (args) => {
        const op = context.commandName ?? "";
        if (/Put|BatchWrite/.test(op)) writes.push(op);
        return next(args);
      },
      { step: "initialize", name: "countWrites" },
    );
    // An order of this licence (placed before the night's list, its outcome settled only now: the
    // reconciler's path) claims the id and writes its record while the sync writes the new ones.
    const licences = h.deps.register.licences;
    const createMany = licences.createMany.bind(licences);
    // Every batch waits for the order's write: batches run concurrently, and one must not slip past it.
    let ordering: Promise<void> | undefined;
    licences.createMany = async (records) => {
      ordering ??= (async () => {
        {
          const ref = { scope: "billing-panel", key: "order-placed-earlier" };
          await h.register.idempotency.claim(
            {
              ...ref,
              requestHash: "a".repeat(64),
              operation: "order",
              request: { operation: "order", body: { autoRenew: 12 } },
              lockedUntil: Date.now() + 30_000,
              expiresAt: Math.floor(Date.now() / 1000) + 86_400,
            },
            Date.now(),
          );
          await h.register.idempotency.claimLicenceId(ordered, ref);
          const seeded = h.vendor.sandbox.state.get(ordered);
          if (!seeded) throw new Error("seeded licence missing");
          await h.register.licences.put(registerRecord({ ...fleet[7], autoRenew: 12 } as never, seeded));
        }
      })();
      await ordering;
      return createMany(records);
    };
    const night = await h.run("2021-05-17");
    expect(night.sync.added).toBe(29);
    expect(await h.record(ordered)).toMatchObject({ autoRenew: 12, name: "new-7" });
    // Each created from its row (version 1), then its form read after the night's renewals (version 2).
    for (const id of ids.filter((x) => x !== ordered)) {
      const record = await h.record(id);
      expect(record).toMatchObject({ autoRenew: null, version: 2 });
      expect(record?.formPending).toBeUndefined();
      expect(record?.key).toBe(h.vendor.sandbox.state.get(id)?.key);
    }
    // 29 licences in two batches (25 and 4), not one write each.
    expect(writes.filter((op) => op === "BatchWriteItemCommand").length).toBeGreaterThanOrEqual(2);
    expect(writes.filter((op) => op === "PutItemCommand").length).toBeLessThan(10);
  });
});

describe("at most one renewal per licence per night", () => {
  it("a licence lapsed weeks ago, renewed, its new expiry still within the lead: a rerun of the night does not renew it again; the next night does", async () => {
    // Before 2021-04-08 (no cap): one month from an expiry of 2021-02-19 is 2021-03-19, still lapsed
    // on 2021-03-20 (and not deleted yet: the vendor deletes 30 days after expiry).
    const { h } = await harness("2021-03-20");
    const id = await h.seed(
      fleetLicence({
        name: "lapsed",
        ip: "82.156.61.1",
        createdate: "2021-01-19",
        expiredate: "2021-02-19",
        autoRenew: 1,
      }),
    );
    const first = await h.run("2021-03-20");
    expect(first.renewed.map((r) => [r.from, r.to, r.reason])).toEqual([
      ["2021-02-19", "2021-03-19", "lapsed"],
    ]);
    expect(h.prolongs()).toBe(1);

    // The schedule's retry, Lambda's async retry, or a copy: same night, still lapsed, not renewed again.
    for (let i = 0; i < 2; i++) {
      const rerun = await h.run("2021-03-20");
      expect([rerun.renewed, rerun.failed, rerun.busy]).toEqual([[], [], []]);
    }
    expect(h.prolongs()).toBe(1);
    expect(h.vendor.sandbox.state.charges().filter((c) => c.elid === id)).toHaveLength(1);

    const next = await h.run("2021-03-21");
    expect(next.renewed.map((r) => [r.from, r.to])).toEqual([["2021-03-19", "2021-04-19"]]);
    expect(h.prolongs()).toBe(2);
  });
});

describe("licences we suspended on purpose", () => {
  it("are never renewed, even lapsed; staff are told why and what to do; a resume lets the next night renew", async () => {
    const { h, notifier } = await harness("2021-05-16");
    const resumed = await h.seed(
      fleetLicence({ name: "resumed-later", ip: "82.156.62.1", expiredate: "2021-05-20", autoRenew: 1 }),
    );
    const kept = await h.seed(
      fleetLicence({ name: "kept-held", ip: "82.156.62.2", expiredate: "2021-05-20", autoRenew: 1 }),
    );
    for (const id of [resumed, kept]) await api(h, "2021-05-16T10:00:00Z").suspend(id);
    expect(await h.record(kept)).toMatchObject({ status: "suspended", suspendedBy: "desk" });

    const due = await h.run("2021-05-17");
    expect(h.prolongs()).toBe(0);
    expect(due.blocked.map((b) => [b.id, b.why]).sort()).toEqual(
      [
        [resumed, "suspended_by_desk"],
        [kept, "suspended_by_desk"],
      ].sort(),
    );
    // Our own suspension is no news from the vendor.
    expect(ofKind(notifier.sent, "vendor_suspended")).toEqual([]);
    const blocked = ofKind(notifier.sent, "renewal_blocked").find((a) => a.licenceId === kept);
    expect(blocked?.title).toBe(
      "[licence desk] Will not renew automatically: kept-held (82.156.62.2) expires 2021-05-20",
    );
    expect(blocked?.body).toContain("suspended through the desk");
    expect(blocked?.body).toContain("If it should run on, resume it and the watcher renews it");
    // The call itself on its own line, after the words.
    expect(blocked?.body).toContain(`- resume licence ${kept}: POST /licenses/${kept}/resume`);
    expect(blocked?.body).toContain(`PATCH /licenses/${kept} with {"autoRenew": null}`);

    // Told once while due, not every night.
    await h.run("2021-05-18");
    expect(ofKind(notifier.sent, "renewal_blocked")).toHaveLength(2);

    // Resumed through the API: the mark is cleared, and the next night renews it.
    await api(h, "2021-05-18T10:00:00Z").resume(resumed);
    const next = await h.run("2021-05-19");
    expect(next.renewed.map((r) => [r.id, r.reason])).toEqual([[resumed, "due"]]);

    // The other one lapses: told once more (it has expired), still never renewed.
    await h.run("2021-05-21");
    const lapsed = ofKind(notifier.sent, "renewal_blocked").filter((a) => a.licenceId === kept);
    expect(lapsed.map((a) => a.title.split(": ")[1])).toEqual([
      "kept-held (82.156.62.2) expires 2021-05-20",
      "kept-held (82.156.62.2) expired 2021-05-20",
    ]);
    expect(h.prolongs()).toBe(1);
    expect(h.vendor.sandbox.state.charges().map((c) => c.elid)).toEqual([resumed]);
  });
});

describe("a due licence that cannot be renewed is never silent", () => {
  it("suspended in the vendor's panel before its expiry, or still being set up: alerted with the reason, once", async () => {
    const { h, notifier } = await harness("2021-05-17");
    const held = await h.seed(
      fleetLicence({ name: "held-at-panel", ip: "82.156.63.1", expiredate: "2021-05-19", autoRenew: 1 }),
    );
    h.vendor.sandbox.state.suspend(held);
    const ordered = fleetLicence({
      name: "still-ordered",
      ip: "82.156.63.2",
      expiredate: "2021-05-19",
      autoRenew: 12,
    });
    const seeded = h.vendor.sandbox.state.seed({ ...seedInput(ordered), status: "1" });
    await h.register.licences.put({ ...registerRecord(ordered, seeded), status: "ordered", statusCode: "1" });

    const night = await h.run("2021-05-17");
    expect(h.prolongs()).toBe(0);
    expect(night.blocked.map((b) => [b.name, b.why]).sort()).toEqual([
      ["held-at-panel", "suspended_before_expiry"],
      ["still-ordered", "not_active"],
    ]);
    const blocked = ofKind(notifier.sent, "renewal_blocked");
    expect(blocked.map((a) => a.licenceId).sort()).toEqual([held, seeded.id].sort());
    expect(blocked.find((a) => a.licenceId === held)?.body).toContain(
      "the vendor shows it suspended before its expiry, not by us",
    );
    const orderedMail = blocked.find((a) => a.licenceId === seeded.id)?.body;
    expect(orderedMail).toContain("Status:   ordered");
    expect(orderedMail).toContain("it is not running yet");
    for (const a of blocked) expect(a.severity).toBe("critical");
    // The panel's suspension is also news from the vendor.
    expect(ofKind(notifier.sent, "vendor_suspended").map((a) => a.licenceId)).toEqual([held]);

    const rerun = await h.run("2021-05-17");
    expect(rerun.sent).toEqual([]);
  });
});

describe("keys reach the register", () => {
  it("a licence without a key is read from its form each night until the key is there, then no more", async () => {
    const { h } = await harness("2021-05-17");
    const id = await h.seed(fleetLicence({ name: "keyless", ip: "82.156.64.1", expiredate: "2021-08-01" }));
    await h.register.licences.update(id, { key: undefined });
    const reads = () => h.vendor.calls("soft.edit");

    const first = await h.run("2021-05-17");
    expect(reads()).toBe(1);
    expect((await h.record(id))?.key).toBe(h.vendorLicence("keyless")?.key);
    expect(first.sync).toMatchObject({ updated: 1 });
    await h.run("2021-05-18");
    expect(reads()).toBe(1);
  });

  it("a key the vendor issues days after the order arrives with the first sync after it", async () => {
    const { h } = await harness("2021-05-10");
    // The vendor activates new licences at once but issues their key two days later.
    h.vendor.sandbox.state.setQuirks({ keyDelayMs: 2 * 86_400_000 });
    h.vendor.sandbox.setNow(new Date("2021-05-10T12:00:00Z"));
    const ordered = await api(h, "2021-05-10T12:00:00Z").order(
      { ip: "82.156.64.2", name: "late-key", product: "ispmanager5-lite", period: 1, autoRenew: null },
      "order-late-key",
    );
    if (ordered.outcome !== "applied") throw new Error("the order was not placed");
    const id = ordered.licence.id;
    expect((await h.record(id))?.key ?? "").toBe("");

    await h.run("2021-05-11");
    expect((await h.record(id))?.key ?? "").toBe("");
    await h.run("2021-05-13");
    const key = h.vendorLicence("late-key")?.key;
    expect(key).toMatch(/^[0-9a-f]{20}$/);
    expect((await h.record(id))?.key).toBe(key);
    const reads = h.vendor.calls("soft.edit");
    await h.run("2021-05-14");
    expect(h.vendor.calls("soft.edit")).toBe(reads);
  });

  it("a key regenerated in the vendor's panel reaches the register through the list's key-change date", async () => {
    const { h } = await harness("2021-05-17");
    const id = await h.seed(fleetLicence({ name: "rekeyed", ip: "82.156.64.3", expiredate: "2021-08-01" }));
    const before = (await h.record(id))?.key;
    h.vendor.sandbox.state.rekey(id);
    const fresh = h.vendorLicence("rekeyed")?.key;
    expect(fresh).not.toBe(before);

    // The list row carries `real_keychange`: the form is read and the new key stored.
    await h.run("2021-05-17");
    expect((await h.record(id))?.key).toBe(fresh);
    // Read for that change on the night after it too (a date cannot tell before or after our read), then no more.
    await h.run("2021-05-18");
    const reads = h.vendor.calls("soft.edit");
    await h.run("2021-05-19");
    expect(h.vendor.calls("soft.edit")).toBe(reads);
  });
});

describe("the reconciler's seam", () => {
  it("is called once, with the night's instant, before the vendor's list is read; its failure does not stop the night", async () => {
    const { h } = await harness("2021-05-17");
    await h.seed(fleetLicence({ name: "due", ip: "82.156.65.1", expiredate: "2021-05-20", autoRenew: 1 }));
    const seen: Array<{ at: string; listsBefore: number }> = [];
    const at = new Date("2021-05-17T02:00:00Z");
    h.vendor.sandbox.setNow(at);
    const night = await runNight(
      {
        ...h.deps,
        reconcile: async (when) => {
          seen.push({ at: when.toISOString(), listsBefore: h.vendor.calls("soft") });
          throw new Error("reconciler down");
        },
      },
      "2021-05-17",
      at,
    );
    expect(seen).toEqual([{ at: "2021-05-17T02:00:00.000Z", listsBefore: 0 }]);
    expect(night.renewed).toHaveLength(1);
  });
});

describe("the night's date in the schedule's zone", () => {
  it("drives the desk's lifecycle check too: an evening run west of UTC renews on the last open night", async () => {
    // 21:00 in New York on 2021-06-14, the last night renewals are open: already 06-15 in UTC.
    const { h, notifier } = await harness("2021-06-14");
    const id = await h.seed(
      fleetLicence({ name: "last-chance", ip: "82.156.63.1", expiredate: "2021-06-20", autoRenew: 1 }),
    );
    // The vendor's own clock is its business; the desk must not refuse on the UTC date before sending.
    h.vendor.sandbox.setNow(new Date("2021-06-14T23:00:00Z"));
    const night = await runNight(h.deps, "2021-06-14", new Date("2021-06-15T01:00:00Z"));
    expect(night.failed).toEqual([]);
    expect(night.renewed.map((r) => [r.name, r.to, r.reason])).toEqual([
      ["last-chance", "2021-12-31", "early"],
    ]);
    expect(h.prolongs()).toBe(1);
    expect((await h.record(id))?.expiresOn).toBe("2021-12-31");
    expect(ofKind(notifier.sent, "renewal_failed")).toEqual([]);
  });

  it("a form that already runs past the plan (to the cap) is not renewed: the summary says so, nothing is sent", async () => {
    // The register (and the vendor's list) say it expires 2021-06-12, due tonight; its form says it
    // already runs to the cap. The vendor's form decides: renewed elsewhere, nothing sent, and told.
    const { h, notifier } = await harness("2021-06-10");
    const id = await h.seed(
      fleetLicence({ name: "capped", ip: "82.156.63.2", expiredate: "2021-12-31", autoRenew: 1 }),
    );
    const record = await h.record(id);
    await h.register.licences.update(id, { expiresOn: "2021-06-12" }, { ifVersion: record?.version ?? 0 });
    const billing = {
      ...h.deps.billing,
      list: async (...args: Parameters<typeof h.deps.billing.list>) => {
        const list = await h.deps.billing.list(...args);
        return {
          ...list,
          rows: list.rows.map((row) => (row.id === id ? { ...row, expiresOn: "2021-06-12" } : row)),
        };
      },
    };
    h.vendor.sandbox.setNow(new Date("2021-06-10T02:00:00Z"));
    const night = await runNight({ ...h.deps, billing }, "2021-06-10", new Date("2021-06-10T02:00:00Z"));
    expect(h.prolongs()).toBe(0);
    expect(night.failed).toEqual([]);
    expect(night.skipped.map((f) => f.name)).toEqual(["capped"]);
    expect((await h.record(id))?.expiresOn).toBe("2021-12-31");
    const summary = ofKind(notifier.sent, "summary")[0];
    expect(summary?.body).toMatch(
      /Not renewed after all \(1\):\n {2}capped \(id \d+\): licence \d+: not renewed, it was renewed elsewhere: the vendor's form shows it running to 2021-12-31, where tonight's renewal was planned from 2021-06-12; nothing was sent/,
    );
  });
});
