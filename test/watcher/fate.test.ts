import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectedExpiry, type Product } from "../../shared/domain/catalogue/catalogue.ts";
import { addDays, addMonths, type IsoDate } from "../../shared/domain/dates.ts";
import type { LicenceRecord } from "../../shared/domain/ports/licence-store.ts";
import { type Fate, fateLine, fateOf } from "../../shared/domain/renewal/fate.ts";
import { decideRenewal, type PlanSettings, renewalCost } from "../../shared/domain/renewal/renewal-rules.ts";
import { catalogue, licenceRecord } from "../support/fixtures.ts";

const settings: PlanSettings = { renewalLeadDays: 3, earlyRenewalDays: 7, expiryAlertDays: [14, 7, 3, 1] };

/**
 * The fate by the plain walk: the watcher's decision on every night from tomorrow to the licence's last
 * chance. `fateOf` decides only on the nights where an input of the decision changes; both must agree.
 */
function walkedFate(record: LicenceRecord, product: Product | undefined, night: IsoDate): Fate {
  const fast = fateOf(record, product, night, settings);
  if (["gone", "unknown", "ends", "manual"].includes(fast.kind) && record.autoRenew === null) return fast;
  const expiresOn = record.expiresOn as IsoDate;
  const closeOn = product?.lifecycle.renewalsCloseOn;
  if (fast.kind === "ends" || fast.kind === "gone" || fast.kind === "unknown") return fast;
  const last = addDays(expiresOn, -settings.renewalLeadDays);
  for (let next = addDays(night, 1); ; next = addDays(next, 1)) {
    const decision = decideRenewal(record, product, next, settings);
    if (decision.action === "renew") {
      const { period } = decision.renewal;
      const to = expectedExpiry(product, expiresOn, period, next);
      const costMinor = product ? renewalCost(product, period, record.nodes) : undefined;
      return {
        kind: "automatic",
        on: next,
        period,
        to,
        capped: to < addMonths(expiresOn, period),
        costMinor,
        usual: { period: record.autoRenew, closeOn },
      };
    }
    if (decision.action === "blocked") return { kind: "blocked", why: decision.why, on: next };
    if (decision.action === "closed" || next >= last) break;
  }
  return fast.kind === "not_due" || fast.kind === "manual" ? fast : { kind: "manual", lastDay: closeOn };
}

const day = (from: string, span: number) => fc.integer({ min: 0, max: span }).map((n) => addDays(from, n));

describe("a licence's fate", () => {
  it("is the same whether decided on every night or only where the decision can change", () => {
    fc.assert(
      fc.property(
        day("2021-01-01", 364),
        day("2020-12-01", 540),
        fc.constantFrom<LicenceRecord["autoRenew"]>(null, 1, 12),
        fc.constantFrom<LicenceRecord["status"]>("active", "active", "suspended", "ordered"),
        fc.boolean(),
        fc.constantFrom("3541", "4601", "9999"),
        (night, expiresOn, autoRenew, status, byDesk, pricelist) => {
          const product = catalogue.byPricelist(pricelist);
          const record = licenceRecord({
            product: product?.id,
            pricelist,
            status,
            expiresOn,
            autoRenew,
            ...(byDesk && status === "suspended" ? { suspendedBy: "desk" as const } : {}),
          });
          expect(fateOf(record, product, night, settings)).toEqual(walkedFate(record, product, night));
        },
      ),
      { numRuns: 3000, seed: 11 },
    );
  });

  it("reads as one line that never says both 'renews automatically' and 'cannot be renewed'", () => {
    const product = catalogue.byPricelist("3541");
    const fates: Fate[] = [
      { kind: "automatic", on: "2021-05-29", period: 12, to: "2021-12-31", capped: true, costMinor: 6_000 },
      { kind: "manual", lastDay: "2021-06-14" },
      { kind: "not_due", closeOn: "2021-06-15", lastDay: "2021-04-07" },
      { kind: "blocked", why: "suspended_by_desk", on: "2021-05-18" },
      { kind: "ends", on: "2021-12-31", why: "renewals_closed", closedOn: "2021-06-15" },
      { kind: "ends", on: "2021-12-31", why: "at_cap", cap: "2021-12-31" },
    ];
    for (const fate of fates) {
      const line = fateLine(fate, "2021-05-17", product);
      const says = ["renews automatically", "cannot be renewed"].filter((p) => line.includes(p));
      expect(says.length, line).toBeLessThanOrEqual(1);
    }
  });

  it("tells an automatic renewal's real end and price: to the cap, named, where the months paid for run past it", () => {
    const lite = catalogue.byPricelist("3541");
    const capped = fateOf(
      licenceRecord({ expiresOn: "2021-05-20", autoRenew: 1 }),
      lite,
      "2021-05-10",
      settings,
    );
    expect(fateLine(capped, "2021-05-10", lite, "EUR")).toBe(
      "renews automatically in 7 days (2021-05-17): to 2021-12-31 (the last day ISPmanager 5 Lite allows), 60.00 EUR for 12 months (not its usual 1 month: the last renewal before ISPmanager 5 Lite renewals close on 2021-06-15)",
    );
    const monthly = fateOf(
      licenceRecord({ expiresOn: "2021-03-20", autoRenew: 1 }),
      lite,
      "2021-03-10",
      settings,
    );
    expect(fateLine(monthly, "2021-03-10", lite, "EUR")).toBe(
      "renews automatically in 7 days (2021-03-17): to 2021-04-20, 6.00 EUR for 1 month",
    );
  });
});
