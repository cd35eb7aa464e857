import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../../shared/domain/alerts/alerts.ts";
import { runNight } from "../../shared/domain/night/night.ts";
import type { LicenceRecord } from "../../shared/domain/ports/licence-store.ts";
import {
  arrayNotifier,
  fleetLicence,
  Killed,
  type KillPoint,
  ledgerKeys,
  mortal,
  type WatchHarness,
  watchHarness,
} from "../support/watcher.ts";

/**
 * A night that knows its deadline, over a first import: every licence is written from its list row at
 * once, the renewals and alerts that are due come first, and the forms (key, nodes) are read with the
 * time left, those waiting longest first; what is left is carried on by the next run. Time is the
 * harness's clock, moved by each form read (0.5 s, a real vendor's), never waited for.
 */
const NIGHT = "2021-05-17";
const AT = new Date(`${NIGHT}T02:00:00Z`);
/** A form read at a real vendor. */
const READ_MS = 500;
const IMPORTED = 40;
/** The imported licences' forms, and the suspended one's (its row changed): read first, it waited longest. */
const FORMS = IMPORTED + 1;

const harnesses: WatchHarness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

/**
 * Two licences the register knows, due tonight, and `IMPORTED` the vendor has that the register does
 * not; one form read costs `READ_MS` on the harness's clock. The run has `budgetMs` (reserve 0).
 */
async function importNight(budgetMs?: number) {
  const notifier = arrayNotifier();
  const h = await watchHarness({
    now: NIGHT,
    notifier,
    settings: { vendorConcurrency: 1, finishReserveMs: 0 },
  });
  harnesses.push(h);
  const due = [
    await h.seed(fleetLicence({ name: "due-a", ip: "82.156.90.1", expiredate: "2021-05-20", autoRenew: 12 })),
    await h.seed(fleetLicence({ name: "due-b", ip: "82.156.90.2", expiredate: "2021-05-19", autoRenew: 12 })),
  ];
  // Known to the register, suspended by the vendor since the last night: its row changed, and told.
  const held = await h.seed(
    fleetLicence({ name: "held", ip: "82.156.90.3", expiredate: "2021-10-01", autoRenew: 12 }),
  );
  h.vendor.sandbox.state.suspend(held);
  const imported = Array.from({ length: IMPORTED }, (_, i) =>
    h.seedVendorOnly(
      fleetLicence({
        name: `old-${i}`,
        ip: `82.156.91.${i + 1}`,
        expiredate: "2021-09-01",
        ...(i % 10 === 0 && { pricelist: "4601", nodes: 2 }),
      }),
    ),
  );
  // With a budget, the run's clock is the reads' alone (no real time in it), so what fits is exact.
  let clock = Date.now();
  const reads: string[] = [];
  const get = h.billing.get.bind(h.billing);
  h.deps.billing = {
    ...h.billing,
    async get(id, opts) {
      reads.push(id);
      if (budgetMs === undefined) h.advance(READ_MS);
      else clock += READ_MS;
      return get(id, opts);
    },
  };
  if (budgetMs !== undefined) {
    const start = clock;
    h.deps.nowMs = () => clock;
    h.deps.remainingMs = () => start + budgetMs - clock;
  }
  h.vendor.sandbox.setNow(AT);
  return { h, notifier, due, held, imported, reads };
}

const pending = async (h: WatchHarness, ids: string[]) =>
  (await Promise.all(ids.map((id) => h.record(id)))).filter((r) => r?.formPending === true).length;

/** The imported licences as the register holds them. */
async function registerView(h: WatchHarness, ids: string[]) {
  const view = (r: LicenceRecord | undefined) => ({
    id: r?.id,
    name: r?.name,
    status: r?.status,
    expiresOn: r?.expiresOn,
    key: r?.key,
    nodes: r?.nodes,
    formPending: r?.formPending,
    autoRenew: r?.autoRenew,
  });
  return (await Promise.all(ids.map((id) => h.record(id)))).map(view);
}

/** The same licences as the vendor shows them, every form read: what a healthy night leaves. */
function vendorView(h: WatchHarness, ids: string[]) {
  return ids.map((id) => {
    const v = h.vendor.sandbox.state.get(id);
    return {
      id,
      name: v?.licname,
      status: "active",
      expiresOn: v?.expiredate,
      key: v?.key,
      nodes: v?.pricelist === "4601" ? 2 : undefined,
      formPending: undefined,
      autoRenew: null,
    };
  });
}

describe("a night with a deadline over a first import", () => {
  it("with 6 s left: every licence in the register from its row, both renewals done, forms read with the rest of the time, the others left and told; the next run completes it", async () => {
    // 6 s at 0.5 s a read: 12 reads begin before the run's stop (the last at 5.5 s). The renewals' own
    // reads of their licences take their share; the forms get the rest.
    const { h, notifier, due, held, imported, reads } = await importNight(6_000);
    const report = await runNight(h.deps, NIGHT, AT);

    // Mandatory work first, whatever the budget: the list, every row written, the renewals.
    expect(report.sync).toMatchObject({ listed: IMPORTED + 3, added: IMPORTED, updated: 1 });
    for (const id of imported) expect((await h.record(id))?.status).toBe("active");
    expect(report.renewed.map((r) => r.id).sort()).toEqual([...due].sort());
    expect(h.prolongs()).toBe(2);
    // Then the forms, until the time ran out, those waiting longest first (here the list's order).
    expect(report.forms.stopped).toBe(true);
    const renewalReads = reads.filter((id) => due.includes(id)).length;
    expect(renewalReads).toBeGreaterThan(0);
    expect(reads).toHaveLength(12);
    expect(report.forms).toMatchObject({
      due: FORMS,
      read: 12 - renewalReads,
      left: FORMS - (12 - renewalReads),
    });
    expect(await pending(h, imported)).toBe(report.forms.left);
    const firstRead = imported.slice(0, report.forms.read - 1);
    for (const id of firstRead) expect((await h.record(id))?.key).toBe(h.vendor.sandbox.state.get(id)?.key);
    // The night's record and its summary say how many are left.
    expect((await h.register.nights.read(NIGHT)).sync.formsLeft).toBe(report.forms.left);
    const summary = notifier.sent.find((a) => a.kind === "summary");
    expect(summary?.body).toContain(
      `${report.forms.left} licences still have their form (key, nodes) to read: the next runs read them, those waiting longest first`,
    );

    // The next run of the night (a continuation) carries on from the register, not from the start:
    // no renewal, no mail again, only the forms left read.
    const readsBefore = h.vendor.calls("soft.edit");
    const mailsBefore = notifier.sent.length;
    const again = await runNight({ ...h.deps, remainingMs: undefined }, NIGHT, AT);
    expect(h.vendor.calls("soft.edit") - readsBefore).toBe(report.forms.left);
    expect(again.forms).toMatchObject({ read: report.forms.left, left: 0, stopped: false });
    expect(h.prolongs()).toBe(2);
    expect(notifier.sent.length).toBe(mailsBefore);
    expect(await pending(h, imported)).toBe(0);
    expect((await h.register.nights.read(NIGHT)).sync.formsLeft).toBe(0);
    // Every licence as the vendor shows it: key and nodes in.
    for (const id of imported) {
      const record = await h.record(id);
      const vendor = h.vendor.sandbox.state.get(id);
      expect(record?.key, id).toBe(vendor?.key);
      if (vendor?.pricelist === "4601") expect(record?.nodes, id).toBe(2);
    }
    // Filling in a licence from its form is not a change at the vendor: the night counts only the
    // suspension its list showed.
    expect((await h.register.nights.read(NIGHT)).sync).toMatchObject({ updated: 1, updatedIds: [held] });
  });

  it("with no time left at all: renews what is due, reads no form, and says how many are left", async () => {
    const { h, due, imported } = await importNight(0);
    const report = await runNight(h.deps, NIGHT, AT);
    expect(report.renewed.map((r) => r.id).sort()).toEqual([...due].sort());
    expect(report.forms).toMatchObject({ read: 0, left: FORMS, stopped: true });
    expect(await pending(h, imported)).toBe(IMPORTED);
  });

  it("a form read that keeps failing holds up none of the others: the rest are read, it stays pending and is told once a night", async () => {
    const { h, notifier, imported } = await importNight();
    const broken = imported[3] as string;
    const get = h.deps.billing.get.bind(h.deps.billing);
    h.deps.billing = {
      ...h.deps.billing,
      async get(id, opts) {
        if (id === broken) throw new Error("billmgr soft.edit: the exchange failed");
        return get(id, opts);
      },
    };
    const report = await runNight(h.deps, NIGHT, AT);
    expect(report.forms).toMatchObject({ read: FORMS, failed: 1, left: 1, stopped: false });
    expect(await pending(h, imported)).toBe(1);
    expect((await h.record(broken))?.formPending).toBe(true);
    expect(notifier.sent.filter((a) => a.kind === "sync_failed").map((a) => a.licenceId)).toEqual([broken]);
    // Nothing left for the continuation runs: they would list the whole fleet again only to fail it.
    expect((await h.register.nights.read(NIGHT)).sync.formsLeft).toBe(0);
    // The next night reads it first (it has waited longest), fails again, and says so again.
    h.vendor.sandbox.setNow(new Date("2021-05-18T02:00:00Z"));
    const next = await runNight(h.deps, "2021-05-18", new Date("2021-05-18T02:00:00Z"));
    expect(next.forms).toMatchObject({ due: 1, read: 1, failed: 1, left: 1 });
    expect(notifier.sent.filter((a) => a.kind === "sync_failed")).toHaveLength(2);
  });
});

describe("a vendor that throttles the form reads", () => {
  it("stops the forms for this run, tells no licence unreadable for it, and the next run reads them", async () => {
    const { h, notifier, imported } = await importNight();
    // Armed once the forms begin (after the renewals' own reads): 429 on every try of the next read.
    const get = h.deps.billing.get.bind(h.deps.billing);
    let reads = 0;
    h.deps.billing = {
      ...h.deps.billing,
      async get(id, opts) {
        if (imported.includes(id) && ++reads === 5)
          h.vendor.sandbox.faults.add({ func: "soft.edit", kind: "throttle", count: 2, delayMs: 10 });
        return get(id, opts);
      },
    };
    const report = await runNight(h.deps, NIGHT, AT);
    // The suspended licence's form, then 4 imported ones, then the throttled read.
    expect(report.forms).toMatchObject({ read: 5, failed: 0, throttled: true, stopped: true });
    expect(report.forms.left).toBe(IMPORTED - 4);
    expect(notifier.sent.filter((a) => a.kind === "sync_failed")).toEqual([]);
    const again = await runNight(h.deps, NIGHT, AT);
    expect(again.forms).toMatchObject({ read: IMPORTED - 4, left: 0, throttled: false });
    expect(await pending(h, imported)).toBe(0);
  });
});

describe("a first import killed at one point, then run again", () => {
  it("killed at its first form read: the night's record already says how many forms are left, so a continuation carries on", async () => {
    const { h, imported } = await importNight();
    const m = mortal(h.deps, {
      at: "billing.get",
      nth: 1,
      when: "before",
      match: (args) => imported.includes(args[0] as string),
    });
    await runNight(m.deps, NIGHT, AT).catch(() => undefined);
    expect(m.died()).toBe(true);
    await m.settled();
    // As the sync noted it (a form read since is not taken off: the continuation reads what is still marked).
    expect((await h.register.nights.read(NIGHT)).sync.formsLeft).toBe(FORMS);
  });

  const points: Array<[string, KillPoint]> = [
    [
      "after the first batch of rows was written",
      { at: "register.licences.createMany", nth: 1, when: "after" },
    ],
    ["before its rows were written", { at: "register.licences.createMany", nth: 1, when: "before" }],
    ["before its first renewal", { at: "billing.prolong", nth: 1, when: "before" }],
    ["after its second renewal, the answer lost", { at: "billing.prolong", nth: 2, when: "after" }],
    ["at its first form read", { at: "billing.get", nth: 3, when: "before" }],
    ["after the 20th form read", { at: "billing.get", nth: 22, when: "after" }],
    ...[5, 17, 29, 41, 53, 67].map((nth, i): [string, KillPoint] => {
      const when = i % 2 === 0 ? "before" : "after";
      return [`${when} its register write #${nth}`, { at: "register.write", nth, when }];
    }),
  ];

  it.each(points)(
    "killed %s: the rerun ends with the register a healthy night leaves, each renewal once, each alert once",
    async (_, kill) => {
      const { h, notifier, due, held, imported } = await importNight();
      const m = mortal(h.deps, kill);
      const outcome = await runNight(m.deps, NIGHT, AT).then(
        () => "finished",
        (error: unknown) => error,
      );
      expect(m.died(), `died at ${kill.at} #${kill.nth}`).toBe(true);
      expect(outcome).toBeInstanceOf(Killed);
      await m.settled();
      // Past every lease and lock the dead run holds (Lambda's retry comes a minute or more later).
      h.advance(121_000);
      const rerun = await runNight(h.deps, NIGHT, AT);
      // A renewal marked sent that never left is settled as not applied: the next night renews it.
      if (rerun.tonight.failed > 0) {
        const next = new Date("2021-05-18T02:00:00Z");
        h.vendor.sandbox.setNow(next);
        await runNight(h.deps, "2021-05-18", next);
      }

      expect(await registerView(h, imported)).toEqual(vendorView(h, imported));
      expect(h.prolongs(), "service.prolong calls").toBe(2);
      const charged = h.vendor.sandbox.state.charges().filter((c) => c.func === "service.prolong");
      expect(charged.map((c) => c.elid).sort()).toEqual([...due].sort());
      // Each alert once, bar the one mail a kill right between its send and its mark may repeat.
      const counts = new Map<string, number>();
      for (const key of notifier.sent.flatMap((a: Alert) => ledgerKeys(a)))
        counts.set(key, (counts.get(key) ?? 0) + 1);
      const twice = [...counts].filter(([, n]) => n > 1);
      expect(twice.length, JSON.stringify(twice)).toBeLessThanOrEqual(kill.at === "register.write" ? 1 : 0);
      expect(await h.register.alerts.pending()).toEqual([]);
      // The vendor's suspension the rows showed is told, once (or twice only at the send-and-mark point).
      const suspended = notifier.sent.filter((a) => a.kind === "vendor_suspended");
      expect(suspended.map((a) => a.licenceId)).toContain(held);
      expect((await h.record(held))?.status).toBe("suspended");
      expect(notifier.sent.filter((a) => a.kind === "summary").length).toBeGreaterThanOrEqual(1);
    },
  );
});
