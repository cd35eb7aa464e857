import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadCatalogue } from "../../shared/domain/catalogue/catalogue.ts";
import {
  downNeverNothing,
  fieldNames,
  oneMailPerEvent,
  parseOutbox,
  possibleAdvice,
  type Reading,
  realEnd,
  renderOutbox,
  subjectCarriesWorst,
  syncNames,
  topUpCovers,
} from "../support/mail-reading.ts";
import type { OutboxLine } from "../support/watcher.ts";

/**
 * The 2021 replay's outbox, read as a reseller's head of operations reads it: the golden text the
 * calendar test keeps (test/watcher/golden/replay-2021-outbox.txt), parsed back into mails, no server
 * needed. Each rule is shown able to fail on a bad mail in mail-reading.test.ts; here each must read
 * something (so none passes by reading nothing) and find no fault but the known ones named below.
 */
const GOLDEN = join(import.meta.dirname, "golden", "replay-2021-outbox.txt");
const text = readFileSync(GOLDEN, "utf8");
const outbox = parseOutbox(text);

/** A per-mail rule over the whole outbox. */
function readAll(read: (mail: OutboxLine) => Reading): Reading {
  const readings = outbox.map(read);
  return {
    checked: readings.reduce((n, r) => n + r.checked, 0),
    faults: readings.flatMap((r) => r.faults),
  };
}

/**
 * Faults the outbox has today, each named precisely and left out until the mails are fixed (then its
 * entry goes). Any other fault fails its test.
 */
describe("the 2021 outbox, read rule by rule", () => {
  it("is read back mail for mail: rendering the parsed mails gives the golden text again", () => {
    expect(outbox.length).toBeGreaterThan(100);
    expect(renderOutbox(outbox)).toBe(text);
    for (const mail of outbox.filter((m) => /^Licence: /m.test(m.body)))
      expect(mail.licenceId).toMatch(/^\d+$/);
  });

  it("1. every renewal, done or planned, says its real end and price; an early end says why", () => {
    const { checked, faults } = readAll(realEnd);
    expect(checked).toBeGreaterThan(0);
    expect(faults).toEqual([]);
  });

  it("2. the top-up asked covers everything listed at once, against the balance after tonight's charges", () => {
    const { checked, faults } = readAll(topUpCovers);
    expect(checked).toBeGreaterThan(0);
    expect(outbox.filter((m) => m.kind === "low_balance").length).toBeGreaterThan(0);
    expect(faults).toEqual([]);
  });

  it("3. a licence that is down is never 'nothing to do'; a critical mail asks staff for something", () => {
    const readings = outbox.map(downNeverNothing);
    expect(readings.reduce((n, r) => n + r.down, 0)).toBeGreaterThan(0);
    expect(readings.reduce((n, r) => n + r.critical, 0)).toBeGreaterThan(0);
    expect(readings.flatMap((r) => r.faults)).toEqual([]);
  });

  it("4. advice is possible on its day: no order of a product whose sales closed; no 'not affected' beside 'cannot be renewed'", () => {
    const products = loadCatalogue().products;
    const { orders, cannot, faults } = possibleAdvice(outbox, products);
    expect(orders).toBeGreaterThan(0);
    expect(cannot).toBeGreaterThan(0);
    // Orders advised after a close are read too (ISPmanager 6 ones), so that branch is not idle.
    const firstClose = products
      .map((p) => p.lifecycle.salesCloseOn)
      .filter((d): d is string => d !== undefined)
      .sort()[0] as string;
    expect(
      possibleAdvice(
        outbox.filter((m) => m.night >= firstClose),
        products,
      ).orders,
    ).toBeGreaterThan(0);
    expect(faults).toEqual([]);
  });

  it("5. the subject carries the worst news the body tells; no zero counts, no empty sections", () => {
    const { checked, faults } = readAll(subjectCarriesWorst);
    expect(checked).toBeGreaterThan(0);
    expect(faults).toEqual([]);
  });

  it("6. the sync line names the licences new, changed and gone", () => {
    const { checked, faults } = readAll(syncNames);
    expect(checked).toBeGreaterThan(0);
    expect(faults).toEqual([]);
  });

  it("7. one mail per event: one lifecycle and one 'cannot be renewed' mail per product and night", () => {
    const { checked, faults } = oneMailPerEvent(outbox);
    expect(checked).toBeGreaterThan(0);
    expect(faults).toEqual([]);
  });

  it("8. sentences in words: field names and API calls only on How lines", () => {
    const readings = outbox.map(fieldNames);
    expect(readings.reduce((n, r) => n + r.prose, 0)).toBeGreaterThan(0);
    expect(readings.reduce((n, r) => n + r.api, 0)).toBeGreaterThan(0);
    expect(readings.flatMap((r) => r.faults)).toEqual([]);
  });
});
