import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Product } from "../../shared/domain/catalogue/catalogue.ts";
import { addDays } from "../../shared/domain/dates.ts";
import type { LicenceRecord } from "../../shared/domain/ports/licence-store.ts";
import {
  decideRenewal,
  isLive,
  nearestThreshold,
  type PlanSettings,
  renewalCost,
  renewalNight,
} from "../../shared/domain/renewal/renewal-rules.ts";
import { BUSINESS as business, licenceRecord, LITE as lite } from "../support/fixtures.ts";
import { defaultSettings } from "../support/watcher.ts";

/** The renewal decisions, against the real catalogue (ISPmanager 5: cap from 2021-04-08, close 2021-06-15). */
const settings: PlanSettings = defaultSettings();

/** A Lite month set to renew monthly, expiring 2021-05-01. */
const licence = (overrides: Partial<LicenceRecord> = {}): LicenceRecord =>
  licenceRecord({ expiresOn: "2021-05-01", createdOn: "2021-04-01", autoRenew: 1, ...overrides });

const renew = (period: 1 | 12, reason: "due" | "early" | "lapsed") => ({
  action: "renew",
  renewal: { period, reason },
});
const none = { action: "none" };

describe("the shipped settings and catalogue", () => {
  it("are what these cases assume", () => {
    expect(settings).toMatchObject({
      renewalLeadDays: 3,
      earlyRenewalDays: 7,
      expiryAlertDays: [14, 7, 3, 1],
    });
    expect(lite.lifecycle).toEqual({
      capFrom: "2021-04-08",
      lastValidDay: "2021-12-31",
      salesCloseOn: "2021-06-15",
      renewalsCloseOn: "2021-06-15",
      supportEndsOn: "2022-01-01",
    });
    expect(business.lifecycle).toEqual(lite.lifecycle);
  });
});

describe("decideRenewal", () => {
  it("renews nothing without autoRenew, however close the expiry", () => {
    const manual = licence({ autoRenew: null, expiresOn: "2021-05-01" });
    for (const night of ["2021-04-28", "2021-04-30", "2021-05-01", "2021-05-03"])
      expect(decideRenewal(manual, lite, night, settings)).toEqual(none);
  });

  it("renews within the lead (3 days, inclusive), not before", () => {
    const l = licence({ expiresOn: "2021-05-01" });
    expect(decideRenewal(l, lite, "2021-04-27", settings)).toEqual(none);
    expect(decideRenewal(l, lite, "2021-04-28", settings)).toEqual(renew(1, "due"));
    expect(decideRenewal(l, lite, "2021-04-30", settings)).toEqual(renew(1, "due"));
    expect(decideRenewal(l, lite, "2021-05-01", settings)).toEqual(renew(1, "due"));
    // The lead is a setting.
    expect(decideRenewal(l, lite, "2021-04-24", { ...settings, renewalLeadDays: 7 })).toEqual(
      renew(1, "due"),
    );
    expect(decideRenewal(l, lite, "2021-04-28", { ...settings, renewalLeadDays: 0 })).toEqual(none);
  });

  it("renews for the licence's own autoRenew period", () => {
    const yearly = licence({ autoRenew: 12, period: 12, expiresOn: "2021-03-20" });
    expect(decideRenewal(yearly, lite, "2021-03-18", settings)).toEqual(renew(12, "due"));
  });

  it("renews a lapsed licence the vendor suspended for non-payment (reason lapsed)", () => {
    const lapsed = licence({ status: "suspended", statusCode: "3", expiresOn: "2021-05-10" });
    expect(decideRenewal(lapsed, lite, "2021-05-11", settings)).toEqual(renew(1, "lapsed"));
    expect(decideRenewal(lapsed, lite, "2021-05-20", settings)).toEqual(renew(1, "lapsed"));
    // Active but already past its expiry (the vendor has not suspended it yet): lapsed as well.
    expect(decideRenewal(licence({ expiresOn: "2021-05-10" }), lite, "2021-05-11", settings)).toEqual(
      renew(1, "lapsed"),
    );
  });

  it("never renews a licence suspended before its expiry (suspended on purpose): blocked once due, so staff hear of it", () => {
    const held = licence({ status: "suspended", statusCode: "3", expiresOn: "2021-05-14" });
    const blocked = { action: "blocked", why: "suspended_before_expiry", lapsed: false };
    expect(decideRenewal(held, lite, "2021-05-10", settings)).toEqual(none);
    expect(decideRenewal(held, lite, "2021-05-12", settings)).toEqual(blocked);
    expect(decideRenewal(held, lite, "2021-05-14", settings)).toEqual(blocked);
  });

  it("never renews a licence we suspended (suspendedBy desk), even lapsed, even listed active; blocked once due", () => {
    const ours = licence({
      status: "suspended",
      statusCode: "3",
      expiresOn: "2021-05-14",
      suspendedBy: "desk",
    });
    expect(decideRenewal(ours, lite, "2021-05-10", settings)).toEqual(none);
    expect(decideRenewal(ours, lite, "2021-05-11", settings)).toEqual({
      action: "blocked",
      why: "suspended_by_desk",
      lapsed: false,
    });
    // Lapsed: a vendor-suspended lapsed licence would be renewed (see above); ours never is.
    expect(decideRenewal(ours, lite, "2021-05-20", settings)).toEqual({
      action: "blocked",
      why: "suspended_by_desk",
      lapsed: true,
    });
    // The mark wins over the status: resumed at the vendor's panel but not through the desk.
    const active = licence({ expiresOn: "2021-05-14", suspendedBy: "desk" });
    expect(decideRenewal(active, lite, "2021-05-13", settings)).toMatchObject({ action: "blocked" });
    // Cleared by a resume: renewed as usual.
    expect(decideRenewal({ ...active, suspendedBy: undefined }, lite, "2021-05-13", settings)).toEqual(
      renew(1, "due"),
    );
    // Without autoRenew there is nothing to block.
    expect(decideRenewal({ ...ours, autoRenew: null }, lite, "2021-05-13", settings)).toEqual(none);
  });

  it("never renews what is not live or not running: deleted, gone from the list, ordered, processing", () => {
    const night = "2021-04-29";
    for (const l of [
      licence({ status: "deleted", statusCode: "4" }),
      licence({ goneSince: "2021-04-20" }),
      licence({ expiresOn: undefined }),
      licence({ status: "ordered", statusCode: "1", expiresOn: undefined }),
    ])
      expect(decideRenewal(l, lite, night, settings)).toEqual(none);
    // Not running yet but due (or lapsed): blocked, with the reason, so the lapse is never silent.
    for (const l of [
      licence({ status: "ordered", statusCode: "1" }),
      licence({ status: "processing", statusCode: "5" }),
      licence({ status: "unknown", statusCode: "0" }),
    ]) {
      expect(decideRenewal(l, lite, night, settings)).toEqual({
        action: "blocked",
        why: "not_active",
        lapsed: false,
      });
      expect(decideRenewal(l, lite, "2021-05-02", settings)).toEqual({
        action: "blocked",
        why: "not_active",
        lapsed: true,
      });
      expect(decideRenewal(l, lite, "2021-04-27", settings)).toEqual(none);
    }
  });

  it("renews early, from 7 days before renewals close, a licence whose normal night falls on or after the close", () => {
    // after-close: expires 2021-06-20, normal night 2021-06-17 >= 2021-06-15.
    const after = licence({ expiresOn: "2021-06-20", createdOn: "2021-05-20" });
    expect(decideRenewal(after, lite, "2021-06-07", settings)).toEqual(none);
    expect(decideRenewal(after, lite, "2021-06-08", settings)).toEqual(renew(12, "early"));
    expect(decideRenewal(after, lite, "2021-06-14", settings)).toEqual(renew(12, "early"));
    // Normal night exactly on the close day (2021-06-18 - 3 = 2021-06-15): early too.
    const onClose = licence({ expiresOn: "2021-06-18" });
    expect(decideRenewal(onClose, lite, "2021-06-07", settings)).toEqual(none);
    expect(decideRenewal(onClose, lite, "2021-06-08", settings)).toEqual(renew(12, "early"));
    // Normal night the day before the close (2021-06-14): no early renewal, renewed on its night.
    const beforeClose = licence({ expiresOn: "2021-06-17" });
    expect(decideRenewal(beforeClose, lite, "2021-06-08", settings)).toEqual(none);
    expect(decideRenewal(beforeClose, lite, "2021-06-13", settings)).toEqual(none);
    expect(decideRenewal(beforeClose, lite, "2021-06-14", settings)).toEqual(renew(12, "due"));
    // A licence far past the close is renewed early as well (and to the cap).
    expect(decideRenewal(licence({ expiresOn: "2021-09-01" }), lite, "2021-06-08", settings)).toEqual(
      renew(12, "early"),
    );
    // The window is a setting.
    expect(decideRenewal(after, lite, "2021-06-05", { ...settings, earlyRenewalDays: 10 })).toEqual(
      renew(12, "early"),
    );
  });

  it("goes to the cap (12 months, the vendor trims it to 2021-12-31) when the next renewal would fall after the close", () => {
    // window-auto: bought 2021-04-20, expires 2021-05-20; a monthly renewal would need another on 2021-06-17.
    const windowAuto = licence({ expiresOn: "2021-05-20", createdOn: "2021-04-20" });
    expect(decideRenewal(windowAuto, lite, "2021-05-17", settings)).toEqual(renew(12, "due"));
    // lts-auto on 2021-05-29: expires 2021-06-01, the next monthly night would be 2021-06-28.
    expect(decideRenewal(licence({ expiresOn: "2021-06-01" }), lite, "2021-05-29", settings)).toEqual(
      renew(12, "due"),
    );
    // The Business cluster on 2021-06-07: expires 2021-06-10.
    const cluster = licence({
      pricelist: "4601",
      product: "ispmanager5-business",
      nodes: 3,
      expiresOn: "2021-06-10",
    });
    expect(decideRenewal(cluster, business, "2021-06-07", settings)).toEqual(renew(12, "due"));
    // But while the next monthly renewal still falls before the close, monthly stays monthly.
    expect(decideRenewal(licence({ expiresOn: "2021-05-01" }), lite, "2021-04-28", settings)).toEqual(
      renew(1, "due"),
    );
    expect(decideRenewal(licence({ expiresOn: "2021-05-17" }), lite, "2021-05-14", settings)).toEqual(
      renew(1, "due"),
    );
    // 2021-05-18 + 1 month - 3 days = 2021-06-15: the next renewal falls on the close: to the cap.
    expect(decideRenewal(licence({ expiresOn: "2021-05-18" }), lite, "2021-05-15", settings)).toEqual(
      renew(12, "due"),
    );
  });

  it("before capFrom (2021-04-08) a monthly renewal stays monthly", () => {
    // lts-auto's first renewal: 2021-03-29, expiring 2021-04-01.
    expect(decideRenewal(licence({ expiresOn: "2021-04-01" }), lite, "2021-03-29", settings)).toEqual(
      renew(1, "due"),
    );
    expect(decideRenewal(licence({ expiresOn: "2021-04-09" }), lite, "2021-04-07", settings)).toEqual(
      renew(1, "due"),
    );
    // The cap only applies from capFrom: the same due licence, with capFrom moved past tonight, stays
    // monthly where the real catalogue goes to the cap.
    const lateCap: Product = { ...lite, lifecycle: { ...lite.lifecycle, capFrom: "2021-05-18" } };
    const windowAuto = licence({ expiresOn: "2021-05-20" });
    expect(decideRenewal(windowAuto, lite, "2021-05-17", settings)).toEqual(renew(12, "due"));
    expect(decideRenewal(windowAuto, lateCap, "2021-05-17", settings)).toEqual(renew(1, "due"));
  });

  it("renews nothing already at the cap (from capFrom)", () => {
    expect(decideRenewal(licence({ expiresOn: "2021-12-31" }), lite, "2021-06-10", settings)).toEqual(none);
    // lts-long: a Business year bought before capFrom, running to 2022-03-01.
    const long = licence({
      pricelist: "4601",
      product: "ispmanager5-business",
      nodes: 1,
      autoRenew: 12,
      expiresOn: "2022-03-01",
    });
    for (const night of ["2021-04-08", "2021-06-08", "2021-06-14"])
      expect(decideRenewal(long, business, night, settings)).toEqual(none);
  });

  it("says closed, with the day the licence ends, once renewals have closed", () => {
    const l = licence({ expiresOn: "2021-12-31" });
    expect(decideRenewal(l, lite, "2021-06-14", settings)).toEqual(none);
    expect(decideRenewal(l, lite, "2021-06-15", settings)).toEqual({
      action: "closed",
      endsOn: "2021-12-31",
    });
    expect(decideRenewal(l, lite, "2021-12-29", settings)).toEqual({
      action: "closed",
      endsOn: "2021-12-31",
    });
    // Even a due one: it can no longer be renewed.
    const due = licence({ expiresOn: "2021-06-16" });
    expect(decideRenewal(due, lite, "2021-06-15", settings)).toEqual({
      action: "closed",
      endsOn: "2021-06-16",
    });
    // Without autoRenew there is nothing to say.
    expect(decideRenewal(licence({ autoRenew: null }), lite, "2021-06-15", settings)).toEqual(none);
  });

  it("renews a licence of an unknown product on its autoRenew period when due", () => {
    const foreign = licence({
      pricelist: "9999",
      product: undefined,
      autoRenew: 12,
      expiresOn: "2021-08-01",
    });
    expect(decideRenewal(foreign, undefined, "2021-07-28", settings)).toEqual(none);
    expect(decideRenewal(foreign, undefined, "2021-07-29", settings)).toEqual(renew(12, "due"));
    expect(decideRenewal(foreign, undefined, "2021-08-03", settings)).toEqual(renew(12, "lapsed"));
  });
});

describe("isLive", () => {
  it("is false only for deleted or gone licences", () => {
    expect(isLive(licence())).toBe(true);
    expect(isLive(licence({ status: "suspended", statusCode: "3" }))).toBe(true);
    expect(isLive(licence({ status: "deleted", statusCode: "4" }))).toBe(false);
    expect(isLive(licence({ goneSince: "2021-09-01" }))).toBe(false);
  });
});

describe("nearestThreshold (expiry and lifecycle alerts)", () => {
  it("before an expiry (14, 7, 3, 1): the nearest threshold reached, only one, none before the first or after the day", () => {
    const at = (night: string) => nearestThreshold("2021-05-20", night, [14, 7, 3, 1]);
    expect(at("2021-05-05")).toBeUndefined(); // 15 days
    expect(at("2021-05-06")).toBe(14);
    expect(at("2021-05-12")).toBe(14); // 8 days
    expect(at("2021-05-13")).toBe(7);
    expect(at("2021-05-16")).toBe(7); // 4 days
    expect(at("2021-05-17")).toBe(3);
    expect(at("2021-05-18")).toBe(3); // 2 days: "3 days", not 14, 7 and 3 at once
    expect(at("2021-05-19")).toBe(1);
    expect(at("2021-05-20")).toBe(1); // the day itself
    expect(at("2021-05-21")).toBeUndefined();
  });

  it("before a lifecycle date (30, 14, 7, 1)", () => {
    const at = (night: string) => nearestThreshold("2021-06-15", night, [30, 14, 7, 1]);
    expect(at("2021-05-15")).toBeUndefined(); // 31 days
    expect(at("2021-05-16")).toBe(30);
    expect(at("2021-05-31")).toBe(30); // 15 days
    expect(at("2021-06-01")).toBe(14);
    expect(at("2021-06-08")).toBe(7);
    expect(at("2021-06-13")).toBe(7); // 2 days
    expect(at("2021-06-14")).toBe(1);
    expect(at("2021-06-15")).toBe(1); // the day itself
    expect(at("2021-06-16")).toBeUndefined();
    expect(nearestThreshold("2022-01-01", "2021-12-02", [30, 14, 7, 1])).toBe(30);
  });

  it("does not depend on the order of the thresholds; none configured, none due", () => {
    expect(nearestThreshold("2021-05-20", "2021-05-18", [1, 14, 3, 7])).toBe(3);
    expect(nearestThreshold("2021-05-20", "2021-05-18", [])).toBeUndefined();
  });
});

describe("renewalCost", () => {
  it("prices from the catalogue, cluster nodes included", () => {
    expect(renewalCost(business, 12, 3)).toBe(14_000 + 3 * 3_000);
    expect(renewalCost(business, 1, 3)).toBe(1_400 + 3 * 300);
    // Nodes not known: the product's minimum (1).
    expect(renewalCost(business, 12, undefined)).toBe(14_000 + 3_000);
    expect(renewalCost(lite, 1, undefined)).toBe(600);
    expect(renewalCost(lite, 12, undefined)).toBe(6_000);
    // Lite has no nodes: a stray count costs nothing.
    expect(renewalCost(lite, 12, 5)).toBe(6_000);
  });
});

describe("renewalNight", () => {
  it("finds the night a walk over every night finds, deciding only where the decision can change", () => {
    /** The plain walk: the watcher's decision on every night of the horizon. */
    const walked = (record: LicenceRecord, product: Product | undefined, from: string, days: number) => {
      for (let day = 0; day < days; day++) {
        const night = addDays(from, day);
        const decision = decideRenewal(record, product, night, settings);
        if (decision.action === "renew") return { night, renewal: decision.renewal };
        if (decision.action === "closed") return undefined;
      }
      return undefined;
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 364 }).map((n) => addDays("2021-01-01", n)),
        fc.integer({ min: 0, max: 540 }).map((n) => addDays("2020-12-01", n)),
        fc.constantFrom<LicenceRecord["autoRenew"]>(null, 1, 12),
        fc.constantFrom<LicenceRecord["status"]>("active", "active", "suspended"),
        fc.constantFrom("3541", "4601"),
        fc.integer({ min: 1, max: 200 }),
        (from, expiresOn, autoRenew, status, pricelist, days) => {
          const product = pricelist === "3541" ? lite : business;
          const record = licence({ pricelist, product: product.id, expiresOn, autoRenew, status });
          expect(renewalNight(record, product, from, settings, days)).toEqual(
            walked(record, product, from, days),
          );
        },
      ),
      { numRuns: 3000, seed: 12 },
    );
  });

  const cluster = licence({
    pricelist: "4601",
    product: "ispmanager5-business",
    nodes: 3,
    expiresOn: "2021-06-10",
  });
  const afterClose = licence({ expiresOn: "2021-06-20" });

  it("finds the first night within the horizon that renews, with its period and reason", () => {
    expect(renewalNight(cluster, business, "2021-06-01", settings, 7)).toEqual({
      night: "2021-06-07",
      renewal: { period: 12, reason: "due" },
    });
    expect(renewalNight(cluster, business, "2021-06-01", settings, 6)).toBeUndefined();
    expect(renewalNight(afterClose, lite, "2021-06-01", settings, 7)).toBeUndefined();
    expect(renewalNight(afterClose, lite, "2021-06-01", settings, 8)).toEqual({
      night: "2021-06-08",
      renewal: { period: 12, reason: "early" },
    });
    expect(renewalNight(licence({ expiresOn: "2021-04-01" }), lite, "2021-03-25", settings, 7)).toEqual({
      night: "2021-03-29",
      renewal: { period: 1, reason: "due" },
    });
  });

  it("finds none for a licence at the cap, without autoRenew, or once renewals close", () => {
    const long = licence({ pricelist: "4601", nodes: 1, autoRenew: 12, expiresOn: "2022-03-01" });
    expect(renewalNight(long, business, "2021-06-01", settings, 30)).toBeUndefined();
    expect(renewalNight(licence({ autoRenew: null }), lite, "2021-04-25", settings, 30)).toBeUndefined();
    // Due on 2021-06-15 (expires 2021-06-18), but it would be early from 2021-06-08: found then.
    expect(renewalNight(licence({ expiresOn: "2021-06-18" }), lite, "2021-06-10", settings, 7)).toEqual({
      night: "2021-06-10",
      renewal: { period: 12, reason: "early" },
    });
    expect(
      renewalNight(licence({ expiresOn: "2021-06-25" }), lite, "2021-06-15", settings, 30),
    ).toBeUndefined();
  });
});
