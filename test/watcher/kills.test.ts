import { afterAll, describe, expect, it } from "vitest";
import type { FleetLicence } from "../../local/fleet.ts";
import { type Alert, LIST_MAX } from "../../shared/domain/alerts/alerts.ts";
import { type NightReport, runNight } from "../../shared/domain/night/night.ts";
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
 * A night killed at many points, then run again with healthy dependencies (as Lambda's retry or the
 * next schedule would): nothing is renewed or charged twice, no alert is lost or sent twice, and the
 * summary's counts are exact. A kill is simulated by a wrapper around the run's dependencies (vendor
 * client, register, notifier) that "dies" at a chosen call: from then on every call of the dead run
 * throws, and a call in flight at that moment lands but is never answered. The runs' locks and leases
 * are the shipped ones, on the harness's clock: the rerun comes once the clock has moved past them, and
 * nothing sleeps.
 */
const NIGHT = "2021-05-17";
const AT = new Date(`${NIGHT}T02:00:00Z`);
/**
 * Past every hold a dead run leaves: the desk's lock and the night's renewal lease (120 s, the shipped
 * IDEMPOTENCY_LOCK_SECONDS), the send lease (30 s) and the settle lease (30 s).
 */
const PAST_LEASES_MS = 120_000 + 1000;

/** Due tonight (each renewed to the cap, 12 months, 60.00), warned (one digest), changed at the vendor. */
const DUE = ["due-a", "due-b", "due-c"];
const FLEET: FleetLicence[] = [
  fleetLicence({ name: "due-a", ip: "82.156.50.1", expiredate: "2021-05-18", autoRenew: 1 }),
  fleetLicence({ name: "due-b", ip: "82.156.50.2", expiredate: "2021-05-19", autoRenew: 1 }),
  fleetLicence({ name: "due-c", ip: "82.156.50.3", expiredate: "2021-05-20", autoRenew: 1 }),
  fleetLicence({ name: "manual-1", ip: "82.156.50.4", expiredate: "2021-05-18" }),
  fleetLicence({ name: "manual-3", ip: "82.156.50.5", expiredate: "2021-05-20" }),
  fleetLicence({ name: "manual-7", ip: "82.156.50.6", expiredate: "2021-05-24" }),
  fleetLicence({
    name: "held",
    ip: "82.156.50.7",
    period: 12,
    createdate: "2021-04-01",
    expiredate: "2022-04-01",
  }),
  fleetLicence({
    name: "vanishing",
    ip: "82.156.50.8",
    period: 12,
    createdate: "2021-04-01",
    expiredate: "2022-04-01",
  }),
];
/** Each alert of the night once: three expiry warnings (one digest), the two vendor changes, Lite's 30-day sales-and-renewals-close alert, the summary. */
const KINDS = ["expiry", "expiry", "expiry", "lifecycle", "summary", "vendor_deleted", "vendor_suspended"];

const harnesses: WatchHarness[] = [];
afterAll(async () => {
  for (const h of harnesses) await h.close();
});

interface Night {
  h: WatchHarness;
  notifier: ReturnType<typeof arrayNotifier>;
  ids: Record<string, string>;
  balance: number;
}

async function night(): Promise<Night> {
  const notifier = arrayNotifier();
  const h = await watchHarness({
    now: NIGHT,
    notifier,
    // One renewal at a time, so each kill point meets a known renewal (concurrency: see below).
    settings: { digestMin: 3, vendorConcurrency: 1 },
  });
  harnesses.push(h);
  const ids: Record<string, string> = {};
  for (const licence of FLEET) ids[licence.name] = await h.seed(licence);
  // Before tonight's run: the vendor suspends one licence and drops another from its list.
  h.vendor.sandbox.state.suspend(ids.held);
  h.vendor.sandbox.state.vanish(ids.vanishing as string);
  h.vendor.sandbox.setNow(AT);
  return { h, notifier, ids, balance: h.vendor.sandbox.state.balanceMinor };
}

/**
 * Runs the night with dependencies that die at `kill`; resolves once the dead run has gone quiet, with
 * the ledger keys of a mail the rerun may repeat: the dead run's last one, if it died between sending
 * it and marking it sent (the one at-least-once point).
 */
async function killedRun(
  n: Night,
  kill: KillPoint,
): Promise<{ repeatable: string[]; markedSentNeverSent: boolean }> {
  const mailsBefore = n.notifier.sent.length;
  const m = mortal(n.h.deps, kill);
  const outcome = await runNight(m.deps, NIGHT, AT).then(
    () => "finished",
    (error: unknown) => error,
  );
  expect(m.died(), `the run died at ${kill.at} #${kill.nth} (${kill.when})`).toBe(true);
  expect(outcome).toBeInstanceOf(Killed);
  await m.settled();
  // Lambda retries a failed asynchronous invocation after a minute or more (the schedule's retry policy
  // up to 6 h): a rerun past the dead run's leases, as here, finds them all run out.
  n.h.advance(PAST_LEASES_MS);
  // Once dead, nothing more is called: the last call is the one it died at.
  const betweenSendAndMark =
    (kill.when === "after" && m.killedAt() === "notifier.send") ||
    (kill.when === "before" &&
      m.killedAt() === "register.alerts.markSent" &&
      m.calls.at(-2) === "notifier.send");
  const lastMail = n.notifier.sent.length > mailsBefore ? n.notifier.sent.at(-1) : undefined;
  return {
    repeatable: betweenSendAndMark && lastMail ? ledgerKeys(lastMail) : [],
    // Died after the desk marked a renewal sent and before it left: see the test of that below.
    markedSentNeverSent:
      (kill.when === "after" && m.killedAt() === "register.idempotency.markSent") ||
      (kill.when === "before" && m.killedAt() === "billing.prolong"),
  };
}

/** Each ledger key the notifier was given, with how many times. */
function deliveries(sent: Alert[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of sent.flatMap(ledgerKeys)) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

const kindOf = (key: string) => key.split("|")[1] as string;

/** What must hold after any kill and one healthy rerun. */
async function expectNightExact(n: Night, rerun: NightReport, duplicated: string[] = []): Promise<void> {
  const { h, notifier } = n;
  // Renewed once each, charged once each, at the vendor's own count.
  expect(h.prolongs(), "service.prolong calls").toBe(3);
  const charges = h.vendor.sandbox.state.charges().filter((c) => c.func === "service.prolong");
  expect(charges.map((c) => c.elid).sort()).toEqual(DUE.map((name) => n.ids[name]).sort());
  expect(h.vendor.sandbox.state.balanceMinor).toBe(n.balance - 3 * 6_000);
  for (const name of DUE) expect(h.vendorLicence(name)?.expiredate, name).toBe("2021-12-31");
  for (const name of DUE) expect((await h.record(n.ids[name] as string))?.expiresOn, name).toBe("2021-12-31");

  // Every alert delivered, each once (bar the one mail a kill right after its send repeats).
  const counts = deliveries(notifier.sent);
  expect([...counts.keys()].map(kindOf).sort()).toEqual(KINDS);
  for (const [key, count] of counts) expect(count, key).toBe(duplicated.includes(key) ? 2 : 1);
  expect(await h.register.alerts.pending()).toEqual([]);

  // One summary, exact, from the register: whatever the dead run had done.
  const summaries = notifier.sent.filter((a) => a.kind === "summary");
  expect(summaries.length).toBe(duplicated.some((k) => kindOf(k) === "summary") ? 2 : 1);
  const summary = summaries.at(-1) as Alert;
  expect(summary.title).toMatch(/Night 2021-05-17: (?!.*failed)3 renewed\b/);
  const renewedSection = summary.body.split("Renewed (3):")[1]?.split("Failed (")[0] ?? "";
  for (const name of DUE) expect(renewedSection).toContain(`${name} (id ${n.ids[name]}): `);
  // No failure: the section is left out (the subject counts it).
  expect(summary.body).not.toContain("Failed (");
  expect(summary.body).not.toContain("Awaiting");
  expect(rerun.tonight).toEqual({ renewed: 3, failed: 0, awaiting: 0 });
  expect(rerun.failed).toEqual([]);
}

/**
 * A renewal the desk marked sent that never left (the run died in between): the desk cannot tell it
 * from one the vendor received and did not apply, so the evidence decides (the expiry, after the settle
 * window, 0 here): not applied, nothing charged. Tonight's key is spent, so the rerun reports it failed
 * and alerts it (true: it was not renewed), and the next night renews it. Never twice, never lost.
 */
async function expectNotAppliedThenRenewed(n: Night, rerun: NightReport): Promise<void> {
  const { h, notifier } = n;
  expect(h.prolongs()).toBe(2);
  expect(rerun.tonight).toEqual({ renewed: 2, failed: 1, awaiting: 0 });
  const failed = (await h.register.nights.read(NIGHT)).renewals.find((r) => r.outcome === "refused");
  expect(failed?.detail).toMatch(/it was not applied and nothing was charged/);
  const alerted = notifier.sent.filter((a) => a.kind === "renewal_failed").map((a) => a.licenceId);
  expect(alerted).toEqual([failed?.licenceId]);
  const summaries = notifier.sent.filter((a) => a.kind === "summary");
  expect(summaries).toHaveLength(1);
  expect(summaries[0]?.title).toMatch(/: 1 failed, .*\b2 renewed\b/);

  const next = new Date("2021-05-18T02:00:00Z");
  h.vendor.sandbox.setNow(next);
  const tomorrow = await runNight(h.deps, "2021-05-18", next);
  expect(tomorrow.renewed.map((r) => r.id)).toEqual([failed?.licenceId]);
  expect(h.prolongs()).toBe(3);
  expect(h.vendor.sandbox.state.balanceMinor).toBe(n.balance - 3 * 6_000);
  for (const name of DUE) expect(h.vendorLicence(name)?.expiredate, name).toBe("2021-12-31");
}

describe("a night killed at one point, then run again", () => {
  it("the healthy night for reference: three renewals, seven alerts in five mails", async () => {
    const n = await night();
    const report = await runNight(n.h.deps, NIGHT, AT);
    expect(report.renewed.map((r) => r.name).sort()).toEqual(DUE);
    expect(n.notifier.sent).toHaveLength(5);
    await expectNightExact(n, report);
  });

  const points: Array<[string, KillPoint]> = [
    [
      "at its first mail (the expiry digest), before it left",
      { at: "notifier.send", nth: 1, when: "before" },
    ],
    ["at its third mail, before it left", { at: "notifier.send", nth: 3, when: "before" }],
    ["at the summary, before it left", { at: "notifier.send", nth: 5, when: "before" }],
    [
      "between leasing the digest's alerts and sending it",
      { at: "register.alerts.lease", nth: 2, when: "after" },
    ],
    [
      "between marking a mail sent and dropping it from the pending ones",
      { at: "register.alerts.markSent", nth: 1, when: "after" },
    ],
    [
      "right after writing the vendor's suspension (its alert not sent yet)",
      {
        at: "register.licences.update",
        nth: 1,
        when: "after",
        match: (args) => (args[1] as { status?: string }).status === "suspended",
      },
    ],
    [
      "right after marking a licence gone from the list",
      {
        at: "register.licences.update",
        nth: 1,
        when: "after",
        match: (args) => (args[1] as { goneSince?: string }).goneSince !== undefined,
      },
    ],
    [
      "after claiming its second renewal, before marking it sent (nothing left)",
      { at: "register.idempotency.markSent", nth: 2, when: "before" },
    ],
    [
      "after the vendor applied its second renewal, the answer lost",
      { at: "billing.prolong", nth: 2, when: "after" },
    ],
    [
      "after a renewal was applied, before its outcome was recorded for the night",
      { at: "register.nights.settle", nth: 1, when: "before" },
    ],
    // And a sweep through the night's register writes (the sync's, the renewals', the alerts').
    ...[1, 7, 13, 19, 25, 31, 37, 43, 49].map((nth, i): [string, KillPoint] => {
      const when = i % 2 === 0 ? "before" : "after";
      return [`${when} its register write #${nth}`, { at: "register.write", nth, when }];
    }),
  ];

  it.concurrent.each(points)(
    "killed %s: the rerun renews nothing twice, loses no alert, counts exactly",
    async (_, kill) => {
      const n = await night();
      const { repeatable, markedSentNeverSent } = await killedRun(n, kill);
      const rerun = await runNight(n.h.deps, NIGHT, AT);
      if (markedSentNeverSent) return expectNotAppliedThenRenewed(n, rerun);
      await expectNightExact(n, rerun, repeatable);
      // A rerun of the rerun: nothing more of anything.
      const mails = n.notifier.sent.length;
      const again = await runNight(n.h.deps, NIGHT, AT);
      expect([n.h.prolongs(), n.notifier.sent.length, again.renewed.length]).toEqual([3, mails, 0]);
    },
  );

  it("killed right after a mail left, before it was marked sent: that one mail goes out again, nothing else", async () => {
    // The one point where delivery is at least once: SNS standard topics cannot deduplicate.
    const n = await night();
    const { repeatable } = await killedRun(n, { at: "notifier.send", nth: 2, when: "after" });
    expect(repeatable).toEqual(ledgerKeys(n.notifier.sent[1] as Alert));
    expect(repeatable).toHaveLength(1);
    const rerun = await runNight(n.h.deps, NIGHT, AT);
    await expectNightExact(n, rerun, repeatable);
  });

  it("killed after marking a renewal sent, before it reached the vendor: settled as not applied, failed and alerted, renewed the next night, charged once", async () => {
    const n = await night();
    const { markedSentNeverSent } = await killedRun(n, { at: "billing.prolong", nth: 2, when: "before" });
    expect(markedSentNeverSent).toBe(true);
    await expectNotAppliedThenRenewed(n, await runNight(n.h.deps, NIGHT, AT));
  });

  it("the reference write count: a healthy night makes more than 49 register writes (so every kill above lands in it)", async () => {
    const n = await night();
    const m = mortal(n.h.deps, { at: "none", nth: 1, when: "before" });
    await runNight(m.deps, NIGHT, AT);
    const writes = m.calls.filter(
      (c) => c.startsWith("register.") && !/\.(get|list|find|recorded|pending|sent|read|forLicence)$/.test(c),
    );
    expect(writes.length).toBeGreaterThan(49);
  });
});

describe("copies of one night at once (150 renewals)", () => {
  const MANY = 150;
  const names = Array.from({ length: MANY }, (_, i) => `auto-${String(i).padStart(3, "0")}`);

  async function fleetNight() {
    const notifier = arrayNotifier();
    const h = await watchHarness({ now: NIGHT, notifier, balanceMinor: 10_000_000 });
    harnesses.push(h);
    for (const [i, name] of names.entries()) {
      const expiredate = `2021-05-${String(18 + (i % 3)).padStart(2, "0")}`;
      await h.seed(fleetLicence({ name, ip: `82.157.${i >> 8}.${(i % 250) + 1}`, expiredate, autoRenew: 1 }));
    }
    h.vendor.sandbox.setNow(AT);
    return { h, notifier, balance: h.vendor.sandbox.state.balanceMinor };
  }

  /** Renewed once each at the vendor, charged once each, and one summary that says so. */
  async function expectAllOnce(h: WatchHarness, notifier: ReturnType<typeof arrayNotifier>, balance: number) {
    expect(h.prolongs()).toBe(MANY);
    const charged = h.vendor.sandbox.state.charges().filter((c) => c.func === "service.prolong");
    expect(new Set(charged.map((c) => c.elid)).size).toBe(MANY);
    expect(charged).toHaveLength(MANY);
    expect(h.vendor.sandbox.state.balanceMinor).toBe(balance - MANY * 6_000);
    const summaries = notifier.sent.filter((a) => a.kind === "summary");
    expect(summaries).toHaveLength(1);
    const summary = summaries[0] as Alert;
    expect(summary.title).toMatch(new RegExp(`Night ${NIGHT}: (?!.*failed)${MANY} renewed\\b`));
    // The mail names the first renewals and counts the rest; the register's night holds them all.
    const section = summary.body.split(`Renewed (${MANY}):`)[1]?.split("\n\n")[0] ?? "";
    const lines = section.trim().split("\n");
    expect(lines).toHaveLength(LIST_MAX + 1);
    expect(lines.at(-1)).toContain(
      `… and ${MANY - LIST_MAX} more: every renewal of the night is in the watcher's log`,
    );
    for (const line of lines.slice(0, LIST_MAX))
      expect(names.some((name) => line.trimStart().startsWith(`${name} (id `))).toBe(true);
    const applied = (await h.register.nights.read(NIGHT)).renewals.filter((r) => r.outcome === "applied");
    expect(applied.map((r) => r.name).sort()).toEqual([...names].sort());
    const keys = notifier.sent.flatMap(ledgerKeys);
    expect(new Set(keys).size).toBe(keys.length);
  }

  it.each([2, 3])(
    "%i runs at once: each licence renewed once, one summary counting all 150",
    async (copies) => {
      const { h, notifier, balance } = await fleetNight();
      const reports = await Promise.all(Array.from({ length: copies }, () => runNight(h.deps, NIGHT, AT)));
      await expectAllOnce(h, notifier, balance);
      // Each licence in exactly one run's report; the run that sent the summary saw the whole night.
      expect(reports.flatMap((r) => r.renewed.map((x) => x.name)).sort()).toEqual(names);
      for (const r of reports) expect([r.failed, r.unknown]).toEqual([[], []]);
      const last = reports.find((r) => r.sent.some((a) => a.kind === "summary"));
      expect(last?.tonight).toEqual({ renewed: MANY, failed: 0, awaiting: 0 });
    },
  );

  it("a run killed while sending its alerts, then run again: the summary still counts all 150", async () => {
    const { h, notifier, balance } = await fleetNight();
    const m = mortal(h.deps, { at: "notifier.send", nth: 1, when: "before" });
    await expect(runNight(m.deps, NIGHT, AT)).rejects.toBeInstanceOf(Killed);
    expect(notifier.sent).toEqual([]);
    await m.settled();
    h.advance(PAST_LEASES_MS);
    const rerun = await runNight(h.deps, NIGHT, AT);
    expect(rerun.renewed).toEqual([]);
    await expectAllOnce(h, notifier, balance);
  });

  it("two runs at once, one killed among its renewals, then a rerun: none renewed twice, one exact summary, the rest the next night", async () => {
    const { h, notifier, balance } = await fleetNight();
    const m = mortal(h.deps, { at: "billing.prolong", nth: 30, when: "after" });
    const [killed, survivor] = await Promise.allSettled([
      runNight(m.deps, NIGHT, AT),
      runNight(h.deps, NIGHT, AT),
    ]);
    expect(killed.status === "rejected" && killed.reason).toBeInstanceOf(Killed);
    expect(survivor.status).toBe("fulfilled");
    await m.settled();
    h.advance(PAST_LEASES_MS);
    const rerun = await runNight(h.deps, NIGHT, AT);

    // A renewal of the dead run that was marked sent but had not left when it died is settled, on
    // evidence, as not applied (it cannot be told from one the vendor refused to apply): failed
    // tonight, renewed the next night. Every other one was renewed exactly once tonight.
    const tonight = (await h.register.nights.read(NIGHT)).renewals;
    expect(tonight).toHaveLength(MANY);
    const notApplied = tonight.filter((r) => r.outcome === "refused");
    for (const r of notApplied) expect(r.detail).toMatch(/it was not applied and nothing was charged/);
    expect(tonight.filter((r) => r.outcome === "applied")).toHaveLength(MANY - notApplied.length);
    expect(notApplied.length).toBeLessThanOrEqual(4); // at most the dead run's renewals in flight
    expect(h.prolongs()).toBe(MANY - notApplied.length);
    expect(rerun.tonight).toEqual({
      renewed: MANY - notApplied.length,
      failed: notApplied.length,
      awaiting: 0,
    });
    const summaries = notifier.sent.filter((a) => a.kind === "summary");
    expect(summaries).toHaveLength(1);
    expect(summaries[0]?.title).toContain(
      notApplied.length > 0
        ? `: ${notApplied.length} failed, ${MANY - notApplied.length} renewed`
        : `: ${MANY} renewed`,
    );

    const next = new Date("2021-05-18T02:00:00Z");
    h.vendor.sandbox.setNow(next);
    const tomorrow = await runNight(h.deps, "2021-05-18", next);
    expect(tomorrow.renewed.map((r) => r.id).sort()).toEqual(notApplied.map((r) => r.licenceId).sort());
    expect(h.prolongs()).toBe(MANY);
    const charged = h.vendor.sandbox.state.charges().filter((c) => c.func === "service.prolong");
    expect(new Set(charged.map((c) => c.elid)).size).toBe(MANY);
    expect(h.vendor.sandbox.state.balanceMinor).toBe(balance - MANY * 6_000);
  });
});
