import { describe, expect, it } from "vitest";
import { dayCounts, fateContradictions, wordingFaults } from "../support/mail-reading.ts";
import type { OutboxLine } from "../support/watcher.ts";

/** The readers the whole-year test relies on catch what they are for (so that test can fail). */
const mail = (night: string, subject: string, body: string, licenceId: string | null = null): OutboxLine => ({
  night,
  subject,
  body,
  licenceId,
  kind: licenceId ? "expiry" : "summary",
  severity: "info",
});

describe("reading mails as the billing team does", () => {
  it("catches a day count that disagrees with its date, and a count with no date", () => {
    const wrong = mail(
      "2021-05-29",
      "[licence desk] x expires in 30 days (2021-06-15)",
      "Expires tomorrow (2021-05-31).",
    );
    expect(dayCounts(wrong)).toEqual({
      checked: 2,
      wrong: [
        '2021-05-29 "in 30 days (2021-06-15)": 17 days from the night',
        '2021-05-29 "tomorrow (2021-05-31)": 2 days from the night',
      ],
    });
    const right = mail(
      "2021-05-29",
      "[licence desk] x expires in 17 days (2021-06-15)",
      "Due 2021-05-31 (in 2 days).",
    );
    expect(dayCounts(right)).toEqual({ checked: 2, wrong: [] });
    expect(dayCounts(mail("2021-05-29", "s", "renews in 3 days")).wrong).toEqual([
      '2021-05-29 "in 3 days" names no date',
    ]);
  });

  it("catches a licence told 'renews automatically' on or after it was told 'cannot be renewed'", () => {
    const told = [
      mail(
        "2021-06-15",
        "[licence desk] x cannot be renewed: it stops working after 2021-12-31",
        "Renewal:  cannot be renewed",
        "7",
      ),
      mail("2021-06-16", "s", "  2021-12-31  x (id 7, 1.2.3.4): renews automatically tomorrow (2021-06-17)"),
    ];
    expect(fateContradictions(told)).toHaveLength(1);
    expect(
      fateContradictions([told[1] as OutboxLine, { ...(told[0] as OutboxLine), night: "2021-06-17" }]),
    ).toEqual([]);
  });

  it("catches (s) plurals, placeholders, raw kind names, leftovers and long subjects", () => {
    expect(wordingFaults(mail("2021-05-29", "x".repeat(120), "renewed for 1 month(s)"))).toEqual([
      'a "(s)" plural',
      "a subject over 99 characters or with a line break",
    ]);
    expect(wordingFaults(mail("2021-05-29", "s", "POST /licenses/{id}/renew"))).toEqual(["a {placeholder}"]);
    expect(wordingFaults(mail("2021-05-29", "s", "Alerts: cannot_renew 6"))).toEqual([
      "a raw name: cannot_renew",
    ]);
    expect(wordingFaults(mail("2021-05-29", "s", "expires undefined"))).toEqual([
      "a template leftover (undefined, null, NaN)",
    ]);
    expect(wordingFaults(mail("2021-05-29", "s", 'PATCH /licenses/7 with {"autoRenew": null}'))).toEqual([]);
  });
});
