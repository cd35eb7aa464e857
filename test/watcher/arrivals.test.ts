import { afterEach, describe, expect, it } from "vitest";
import { type Alert, LIST_MAX } from "../../shared/domain/alerts/alerts.ts";
import type { WatcherDeps } from "../../shared/domain/night/night-types.ts";
import { arrayNotifier, fleetLicence, type WatchHarness, watchHarness } from "../support/watcher.ts";

/**
 * Licences the sync finds at the vendor start with automatic renewal off. Those expiring soon are told
 * by the summary of the night they arrive (always mailed on a night with new licences), which is their
 * expiry warning: no mail of their own is recorded, leased and sent for each, that night or later at the
 * same distance (a first import of 10,000 licences made 500 of them). A nearer distance is told as usual.
 */
let h: WatchHarness;
afterEach(() => h.close());

const of = (sent: Alert[], night: string, kind?: string) =>
  sent.filter((a) => a.night === night && (kind === undefined || a.kind === kind));

describe("licences new to the register, expiring soon", () => {
  it("are warned by the night's summary, once at each distance, and the ones already known as before", async () => {
    const notifier = arrayNotifier();
    h = await watchHarness({ now: "2021-03-01", notifier, tablePrefix: "arrivals" });
    const tomorrow = h.seedVendorOnly(
      fleetLicence({ name: "new-tomorrow", ip: "82.156.98.1", expiredate: "2021-03-02" }),
    );
    const soon = h.seedVendorOnly(
      fleetLicence({ name: "new-soon", ip: "82.156.98.2", expiredate: "2021-03-10" }),
    );
    h.seedVendorOnly(fleetLicence({ name: "new-later", ip: "82.156.98.3", expiredate: "2021-06-01" }));
    const known = await h.seed(
      fleetLicence({ name: "known-soon", ip: "82.156.98.4", expiredate: "2021-03-10", autoRenew: null }),
    );

    await h.run("2021-03-01");
    const [summary, ...more] = of(notifier.sent, "2021-03-01", "summary");
    expect(more).toEqual([]);
    // The licence already in the register is warned on its own, as before; the new ones are not.
    expect(of(notifier.sent, "2021-03-01", "expiry").map((a) => a.licenceId)).toEqual([known]);
    expect(summary?.title).toContain("2 new not set to renew (first expires 2021-03-02)");
    // The soonest expires tomorrow: the summary is as urgent as its own warning would have been.
    expect(summary?.severity).toBe("critical");
    expect(summary?.body).toContain(
      "New tonight and not set to renew, expiring by 2021-03-10 (2): a licence the vendor lists that the desk did not order starts with automatic renewal off, so nothing renews these; this mail is their expiry warning. The first expires tomorrow (2021-03-02). Each is in the list below, with what becomes of it.",
    );
    expect(summary?.body).toContain(
      '- have the watcher renew a licence: PATCH /licenses/<its id> with {"autoRenew": 12}',
    );
    for (const id of [tomorrow, soon]) expect(summary?.body).toContain(`(id ${id}, `);

    // Still 14 days or fewer (8): told already. The day new-tomorrow expires: told already too.
    await h.run("2021-03-02");
    expect(of(notifier.sent, "2021-03-02", "expiry")).toEqual([]);
    // 7 days left: a nearer distance, warned on its own (with the one known before, at the same distance).
    await h.run("2021-03-03");
    expect(of(notifier.sent, "2021-03-03", "expiry").map((a) => a.licenceId)).toEqual([soon, known]);
  });

  it("more than the summary lists: it says how many, and that the list gives the first with the call for all", async () => {
    const notifier = arrayNotifier();
    h = await watchHarness({ now: "2021-03-01", notifier, tablePrefix: "arrivals-many" });
    for (let i = 1; i <= LIST_MAX + 5; i++)
      h.seedVendorOnly(fleetLicence({ name: `new-${i}`, ip: `82.156.99.${i}`, expiredate: "2021-03-12" }));
    await h.run("2021-03-01");
    const [summary] = of(notifier.sent, "2021-03-01", "summary");
    expect(summary?.severity).toBe("info");
    expect(summary?.body).toContain(
      `expiring by 2021-03-12 (${LIST_MAX + 5}): a licence the vendor lists that the desk did not order starts with automatic renewal off, so nothing renews these; this mail is their expiry warning. The first expires in 11 days (2021-03-12). The list below names the first ${LIST_MAX} of those expiring soon, with what becomes of each, and the call that lists them all.`,
    );
    expect(summary?.body).toContain("… and 5 more: GET /licenses?expiresBefore=2021-04-01");
    expect(of(notifier.sent, "2021-03-01", "expiry")).toEqual([]);
  });

  it("ones whose product's renewals have closed are told to move, not to renew", async () => {
    const notifier = arrayNotifier();
    h = await watchHarness({ now: "2021-07-01", notifier, tablePrefix: "arrivals-closed" });
    h.seedVendorOnly(fleetLicence({ name: "new-lite", ip: "82.156.98.7", expiredate: "2021-07-10" }));
    await h.run("2021-07-01");
    const [summary] = of(notifier.sent, "2021-07-01", "summary");
    expect(summary?.body).toContain(
      "What to do: None of them can be renewed any more (their products' renewals have closed): move each server you keep to a product still sold before it expires.",
    );
    expect(summary?.body).toContain(
      '- order a licence\'s successor: POST /licenses/<its id>/successor with {"period": 12} and a new Idempotency-Key',
    );
    expect(summary?.body).not.toContain("renew it by hand");
  });

  it("with weekly summaries only, each is warned on its own", async () => {
    const notifier = arrayNotifier();
    h = await watchHarness({
      now: "2021-03-02",
      notifier,
      tablePrefix: "arrivals-weekly",
      settings: { summaryMails: "weekly" },
    });
    const soon = h.seedVendorOnly(
      fleetLicence({ name: "new-soon", ip: "82.156.98.5", expiredate: "2021-03-10" }),
    );
    await h.run("2021-03-02");
    expect(of(notifier.sent, "2021-03-02", "summary")).toEqual([]);
    expect(of(notifier.sent, "2021-03-02", "expiry").map((a) => a.licenceId)).toEqual([soon]);
  });

  it("a night that died before its summary and was not run again: the next night warns them on their own", async () => {
    const notifier = arrayNotifier();
    h = await watchHarness({ now: "2021-03-01", notifier, tablePrefix: "arrivals-died" });
    const soon = h.seedVendorOnly(
      fleetLicence({ name: "new-soon", ip: "82.156.98.6", expiredate: "2021-03-10" }),
    );
    // The night's summary cannot be recorded: the run ends there (as if killed), and no run follows.
    const alerts = h.deps.register.alerts;
    const dying: WatcherDeps = {
      ...h.deps,
      register: {
        ...h.deps.register,
        alerts: {
          ...alerts,
          record: async (entries) => {
            if (entries.some((e) => e.kind === "summary")) throw new Error("killed before the summary");
            return alerts.record(entries);
          },
        },
      },
    };
    await expect(h.run("2021-03-01", dying)).rejects.toThrow("killed before the summary");
    expect(notifier.sent).toEqual([]);

    await h.run("2021-03-02");
    expect(of(notifier.sent, "2021-03-02", "expiry").map((a) => a.licenceId)).toEqual([soon]);
  });
});
