import { describe, expect, it } from "vitest";
import {
  dayCounts,
  downNeverNothing,
  fateContradictions,
  fieldNames,
  oneMailPerEvent,
  parseOutbox,
  possibleAdvice,
  realEnd,
  renderOutbox,
  type SoldProduct,
  subjectCarriesWorst,
  syncNames,
  topUpCovers,
  wordingFaults,
} from "../support/mail-reading.ts";
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

  it("reads the golden text back into the mails it was rendered from", () => {
    const mails = [
      mail("2021-06-08", "s", "Nightly run for 2021-06-08.\n\nSync: 1 licence listed by the vendor.\n"),
      mail("2021-06-07", "x expires", "Licence:  x (id 7)\nIP:       1.2.3.4\n\nWhat to do: nothing.", "7"),
    ];
    expect(parseOutbox(renderOutbox(mails))).toEqual([
      { ...(mails[1] as OutboxLine) },
      {
        ...(mails[0] as OutboxLine),
        body: "Nightly run for 2021-06-08.\n\nSync: 1 licence listed by the vendor.",
      },
    ]);
  });
});

/** A mail of a given kind and level. */
const sent = (kind: string, severity: string, night: string, subject: string, body: string): OutboxLine => ({
  ...mail(night, subject, body, /^Licence: +.* \(id (\d+)\)$/m.exec(body)?.[1] ?? null),
  kind,
  severity,
});

describe("the rules a head of operations reads the outbox by", () => {
  it("realEnd: a renewal that ends early says why on its line; one with no end or a longer one is caught", () => {
    const summary = (renewed: string) =>
      sent(
        "summary",
        "info",
        "2021-05-29",
        "s",
        `Nightly run for 2021-05-29.\n\nRenewed (1):\n  ${renewed}\n`,
      );
    expect(
      realEnd(summary("lts-auto (id 7): 2021-06-01 -> 2021-12-31, 60.00 EUR for 12 months, due")).faults,
    ).toEqual([
      '2021-05-29 summary: ends 2021-12-31 with no word why (12 months from 2021-06-01 run to 2022-06-01): "lts-auto (id 7): 2021-06-01 -> 2021-12-31, 60.00 EUR for 12 months, due"',
    ]);
    expect(
      realEnd(
        summary(
          "lts-auto (id 7): 2021-06-01 -> 2021-12-31 (the last day ISPmanager 5 Lite allows), 60.00 EUR for 12 months, due",
        ),
      ),
    ).toEqual({ checked: 1, faults: [] });
    expect(
      realEnd(summary("lts-auto (id 7): 2021-04-01 -> 2021-06-01, 6.00 EUR for 1 month, due")).faults,
    ).toEqual([
      '2021-05-29 summary: ends 2021-06-01, later than paid for (1 months from 2021-04-01 run to 2021-05-01): "lts-auto (id 7): 2021-04-01 -> 2021-06-01, 6.00 EUR for 1 month, due"',
    ]);
    expect(realEnd(summary("lts-auto (id 7): 2021-06-01 -> ? for 12 months, due")).faults).toHaveLength(1);

    const recovered = (to: string) =>
      sent(
        "renewal_recovered",
        "info",
        "2021-06-08",
        "Renewed after all: cluster",
        `Licence:  cluster (id 4)\nExpires:  2021-12-31\n\nThe watcher renewed it tonight: ${to}, 230.00 EUR for 12 months. Its renewal had failed on 2021-06-07: Insufficient funds.\n\nWhat to do: Nothing.`,
      );
    expect(realEnd(recovered("to 2021-12-31")).faults).toHaveLength(1);
    expect(realEnd(recovered("to 2021-12-31 (the last day ISPmanager 5 Business allows)"))).toEqual({
      checked: 1,
      faults: [],
    });

    // A planned renewal, in a low-balance mail's list, says its end as any other does.
    const due = sent(
      "low_balance",
      "warning",
      "2021-05-20",
      "s",
      "Renewals due, in date order:\n  2021-05-29 (in 9 days)  lts-auto (id 7): 12 months, 60.00 EUR\n  2021-12-01 (in 195 days)  lts-long (id 8): its planned successor, ISPmanager 6 Business, 12 months, 190.00 EUR\n\nWhat to do: top up.",
    );
    expect(realEnd(due).faults).toEqual([
      '2021-05-20 low_balance: a renewal that names no end or no price: "2021-05-29 (in 9 days)  lts-auto (id 7): 12 months, 60.00 EUR"',
    ]);
    const planned = sent(
      "expiry",
      "info",
      "2021-03-26",
      "s",
      "Licence:  lts-auto (id 7)\nExpires:  2021-04-01\nRenewal:  renews automatically in 3 days (2021-03-29): to 2021-05-01, 6.00 EUR for 1 month\n\nWhat to do: Nothing.",
    );
    expect(realEnd(planned)).toEqual({ checked: 1, faults: [] });
    expect(realEnd({ ...planned, body: planned.body.replace("to 2021-05-01, ", "") }).faults).toHaveLength(1);
  });

  it("topUpCovers: the top-up asked is what is due less what is held, the shortfall the subject names", () => {
    const lowBalance = (
      asked: string,
      subjectShort: string,
      held = "After tonight's charges the vendor account holds",
    ) =>
      sent(
        "low_balance",
        "warning",
        "2021-03-10",
        `[licence desk] Balance short by ${subjectShort} EUR for renewals due in 19 days (2021-03-29)`,
        [
          `${held} 300.00 EUR (the vendor reads "300.00 EUR").`,
          "The 2 renewals the watcher will make from tomorrow through 2021-06-14 cost 302.00 EUR at catalogue prices: 2.00 EUR more than the balance.",
          "",
          "Renewals due, in date order:",
          "  2021-03-29 (in 19 days)  lts-auto (id 7): 1 month, 6.00 EUR",
          "  2021-06-07 (in 89 days)  cluster (id 4): 12 months, 296.00 EUR",
          "",
          `What to do: top up the vendor account by at least ${asked} EUR before 2021-03-29; that pays for everything listed above.`,
        ].join("\n"),
      );
    expect(topUpCovers(lowBalance("2.00", "2.00"))).toEqual({ checked: 1, faults: [] });
    expect(topUpCovers(lowBalance("1.00", "2.00")).faults).toEqual([
      '2021-03-10 low_balance "[licence desk] Balance short by 2.00 EUR for renewals due in 19 days (2021-03-29)": asks 1.00 EUR, but 302.00 EUR due less 300.00 EUR held is 2.00 EUR',
      '2021-03-10 low_balance "[licence desk] Balance short by 2.00 EUR for renewals due in 19 days (2021-03-29)": says 2.00 EUR more than the balance, asks 1.00 EUR',
      '2021-03-10 low_balance "[licence desk] Balance short by 2.00 EUR for renewals due in 19 days (2021-03-29)": its subject says short by 2.00 EUR, it asks 1.00 EUR',
    ]);
    expect(topUpCovers(lowBalance("2.00", "2.00", "The vendor account holds")).faults).toHaveLength(1);
    const missing = lowBalance("2.00", "2.00");
    expect(
      topUpCovers({ ...missing, body: missing.body.replace(/^ {2}2021-06-07 .*\n/m, "") }).faults.map((f) =>
        f.replace(/^.*": /, ""),
      ),
    ).toEqual(["says 2 due, lists 1", "the items listed add up to 6.00 EUR, the mail says 302.00 EUR"]);

    const summary = (subject: string, balance: string) =>
      sent("summary", "warning", "2021-03-15", subject, `Nightly run for 2021-03-15.\n\n${balance}\n`);
    const short =
      "Balance: 300.00 EUR after tonight's charges does not cover the renewals from tomorrow through 2021-06-14 (4 renewals from 2021-03-29, 302.00 EUR in all): short by 2.00 EUR. Top up the vendor account before 2021-03-29.";
    expect(topUpCovers(summary("[licence desk] Night 2021-03-15: top up 2.00 EUR", short))).toEqual({
      checked: 1,
      faults: [],
    });
    expect(
      topUpCovers(summary("[licence desk] Night 2021-03-15: top up 3.00 EUR", short)).faults,
    ).toHaveLength(1);
    expect(
      topUpCovers(
        summary(
          "[licence desk] Night 2021-03-15: top up 2.00 EUR",
          short.replace("short by 2.00", "short by 1.00"),
        ),
      ).faults,
    ).toHaveLength(2);
    expect(
      topUpCovers(
        summary(
          "s",
          "Balance: 300.00 EUR covers the renewals from tomorrow through 2021-06-14 (3 renewals from 2021-03-29, 372.00 EUR in all).",
        ),
      ).faults.map((f) => f.replace(/^.*": /, "")),
    ).toEqual([
      'a balance not said to be after tonight\'s charges: "Balance: 300.00 EUR covers the renewals from tomorrow through 2021-06-14 (3 renewals from 2021-03-29, 372.00 EUR in all)."',
      "says 300.00 EUR covers 372.00 EUR",
    ]);
  });

  it("downNeverNothing: a licence shown down is never left at 'Nothing'; a critical mail asks for something", () => {
    const lifecycle = (todo: string) =>
      sent(
        "lifecycle",
        "info",
        "2021-12-17",
        "[licence desk] ISPmanager 5 Lite: last day of licences and support in 14 days (2021-12-31)",
        [
          "Your licences of this product (2), and what becomes of each:",
          "  lts-auto (id 2512172, 82.156.37.11): succeeded by licence 2512183 on the same IP",
          "  suspended-upstream (id 2512175, 82.156.37.18, suspended by the vendor since 2021-07-01): cannot be renewed",
          "",
          todo,
        ].join("\n"),
      );
    expect(
      downNeverNothing(lifecycle("What to do: Nothing before 2021-12-31: each is carried on.")).faults,
    ).toEqual([
      '2021-12-17 lifecycle "[licence desk] ISPmanager 5 Lite: last day of licences and support in 14 days (2021-12-31)": licence 2512175 is down ("suspended-upstream (id 2512175, 82.156.37.18, suspended by the vendor since 2021-07-01): cannot be renewed"), yet "What to do: Nothing before 2021-12-31: each is carried on."',
    ]);
    for (const todo of [
      "What to do: Nothing before 2021-12-31 for lts-auto; suspended-upstream is down: resume it or delete it.",
      "What to do: Check why suspended-upstream is suspended; nothing else.",
    ])
      expect(downNeverNothing(lifecycle(todo))).toEqual({ down: 1, critical: 0, faults: [] });

    // A reminder's own indented advice is the one that applies to it.
    const reminder = (todo: string) =>
      sent(
        "summary",
        "warning",
        "2021-07-12",
        "s",
        `Still down, reminded each week (1):\n  Still down after 11 days: suspended-upstream (82.156.37.18): suspended by the vendor since 2021-07-01.\n    ${todo}\n`,
      );
    expect(downNeverNothing(reminder("What to do: resume it, or delete it if not."))).toEqual({
      down: 1,
      critical: 0,
      faults: [],
    });
    expect(downNeverNothing(reminder("What to do: nothing, the vendor decides.")).faults).toHaveLength(1);
    expect(downNeverNothing(reminder("It stays so.")).faults).toEqual([
      '2021-07-12 summary: suspended-upstream is down and nothing says what to do: "Still down after 11 days: suspended-upstream (82.156.37.18): suspended by the vendor since 2021-07-01."',
    ]);

    const expired = (severity: string, todo: string) =>
      sent(
        "expired",
        severity,
        "2021-05-21",
        "[licence desk] lts-manual (82.156.37.12) expired yesterday (2021-05-20)",
        `Licence:  lts-manual (id 2512171)\nStatus:   suspended (expired on 2021-05-20, suspended since 2021-05-21)\n\n${todo}`,
      );
    expect(downNeverNothing(expired("critical", "What to do: Renew it by hand by 2021-06-14."))).toEqual({
      down: 1,
      critical: 1,
      faults: [],
    });
    expect(downNeverNothing(expired("critical", "What to do: Nothing.")).faults).toEqual([
      '2021-05-21 expired "[licence desk] lts-manual (82.156.37.12) expired yesterday (2021-05-20)": licence 2512171 is down ("Status:   suspended (expired on 2021-05-20, suspended since 2021-05-21)"), yet "What to do: Nothing."',
      '2021-05-21 expired "[licence desk] lts-manual (82.156.37.12) expired yesterday (2021-05-20)": critical, with nothing for staff to do',
    ]);
    const covered = sent(
      "balance_covered",
      "critical",
      "2021-06-08",
      "Balance covers",
      "What to do: nothing.",
    );
    expect(downNeverNothing(covered).faults).toEqual([
      '2021-06-08 balance_covered "Balance covers": critical, but it only informs',
    ]);
    expect(downNeverNothing({ ...covered, severity: "info" })).toEqual({ down: 0, critical: 0, faults: [] });
  });

  it("possibleAdvice: no order of a product once its sales closed; never 'not affected' beside 'cannot be renewed'", () => {
    const products: SoldProduct[] = [
      { id: "ispmanager5-lite", title: "ISPmanager 5 Lite", lifecycle: { salesCloseOn: "2021-06-15" } },
      { id: "ispmanager6-lite", title: "ISPmanager 6 Lite", lifecycle: {} },
    ];
    const advice = (night: string) =>
      sent(
        "lifecycle",
        "warning",
        night,
        "[licence desk] ISPmanager 5 Lite: sales and renewals close",
        [
          "From that day an order or a renewal of ISPmanager 5 Lite runs to 2021-12-31 at the latest.",
          "What to do: order by then any new ISPmanager 5 Lite licence you still need. After that, only ISPmanager 6 Lite can be ordered.",
          "",
          "How, through the desk's API:",
          '- order ISPmanager 5 Lite: POST /licenses with {"product": "ispmanager5-lite", ...} and a new Idempotency-Key',
        ].join("\n"),
      );
    expect(possibleAdvice([advice("2021-06-14")], products)).toEqual({ orders: 2, cannot: 0, faults: [] });
    expect(possibleAdvice([advice("2021-06-15")], products).faults).toEqual([
      '2021-06-15 lifecycle "[licence desk] ISPmanager 5 Lite: sales and renewals close": advises ordering ISPmanager 5 Lite, whose sales closed on 2021-06-15: "What to do: order by then any new ISPmanager 5 Lite licence you still need. After that, only ISPmanager 6 Lite can be ordered."',
      '2021-06-15 lifecycle "[licence desk] ISPmanager 5 Lite: sales and renewals close": advises ordering ISPmanager 5 Lite, whose sales closed on 2021-06-15: "- order ISPmanager 5 Lite: POST /licenses with {"product": "ispmanager5-lite", ...} and a new Idempotency-Key"',
    ]);
    // An order call of a licence's own product, told by the mail's Product: line.
    const deleted = (night: string, call: string) =>
      sent(
        "vendor_deleted",
        "critical",
        night,
        "Deleted by the vendor: x",
        `Licence:  x (id 7)\nProduct:  ISPmanager 5 Lite\n\nWhat to do: If the server still needs a licence, order a new one (${call}).`,
      );
    expect(possibleAdvice([deleted("2021-06-19", "POST /licenses")], products).faults).toHaveLength(1);
    expect(
      possibleAdvice(
        [
          {
            ...deleted("2021-06-19", ""),
            body: 'Product:  ISPmanager 5 Lite\n\nWhat to do: order ISPmanager 6 Lite for it.\n- order it: POST /licenses with {"product": "ispmanager6-lite"}',
          },
        ],
        products,
      ),
    ).toEqual({ orders: 2, cannot: 0, faults: [] });

    const salesClose = sent(
      "lifecycle",
      "warning",
      "2021-06-15",
      "[licence desk] ISPmanager 5 Lite: sales close today (2021-06-15)",
      "From that day the vendor takes no new orders for ISPmanager 5 Lite. Licences already bought are not affected.\n\nWhat to do: nothing.",
    );
    const cannot = sent(
      "cannot_renew",
      "warning",
      "2021-06-15",
      "[licence desk] ISPmanager 5 Lite: renewals closed today: 1 licence cannot be renewed",
      "- id 7: lts-auto (82.156.37.11) cannot be renewed: it stops working after 2021-12-31\n  What to do: move it.",
    );
    expect(possibleAdvice([salesClose, cannot], products).faults).toEqual([
      '2021-06-15 ISPmanager 5 Lite: "From that day the vendor takes no new orders for ISPmanager 5 Lite. Licences already bought are not affected.", yet "- id 7: lts-auto (82.156.37.11) cannot be renewed: it stops working after 2021-12-31"',
    ]);
    expect(possibleAdvice([salesClose, { ...cannot, night: "2021-06-16" }], products)).toEqual({
      orders: 0,
      cannot: 1,
      faults: [],
    });
  });

  it("subjectCarriesWorst: the subject counts the worst news as the body does; no zero count, no empty section", () => {
    const body = (renewed: string) =>
      [
        "Nightly run for 2021-06-07.",
        "",
        "Failed (1):",
        "  cluster (id 4): Insufficient funds on the account balance.",
        renewed,
        "",
        "Balance: 168.00 EUR after tonight's charges does not cover the renewals (3 renewals from 2021-06-08, 350.00 EUR in all): short by 182.00 EUR.",
        "",
        "Mailed on their own tonight (2): 1 renewal failed, 1 balance too low",
        "",
        "Expiring in the next 30 days, through 2021-07-07 (2):",
        "  2021-06-10  cluster (id 4, 82.156.37.14): renews automatically tomorrow (2021-06-08)",
        "  2021-06-14  before-close (id 5, 82.156.37.15): renews automatically in 4 days (2021-06-11)",
        "",
      ].join("\n");
    const good = sent(
      "summary",
      "warning",
      "2021-06-07",
      "[licence desk] Night 2021-06-07: 1 failed, top up 182.00 EUR, 2 expire in 30 days",
      body(""),
    );
    expect(subjectCarriesWorst(good)).toEqual({ checked: 8, faults: [] });
    const bad = sent(
      "summary",
      "warning",
      "2021-06-07",
      "[licence desk] Night 2021-06-07: 0 renewed, 3 expire in 30 days",
      body("\nRenewed (0):\n\nAwaiting the outcome: none\n\nMailed apart (2): 1 renewal failed"),
    );
    expect(subjectCarriesWorst(bad).faults.map((f) => f.replace(/^.*?": /, ""))).toEqual([
      "its subject counts zero",
      'an empty section: "Renewed (0):"',
      'a section that says only none: "Awaiting the outcome: none"',
      '"Mailed apart (2): 1 renewal failed" counts 2, lists 1',
      'the balance "does not cover", its subject asks no top-up',
      "its body counts 1 under ^Failed \\(([\\d,]+)\\):, its subject 0",
      "its body counts 2 under ^Expiring in the next[^(]*\\(([\\d,]+)\\):, its subject 3",
    ]);
  });

  it("syncNames: the sync line names a licence for each count, and as many as it counts", () => {
    const summary = (sync: string) => sent("summary", "info", "2021-06-19", "s", `Nightly run.\n\n${sync}\n`);
    expect(
      syncNames(summary("Sync: 9 licences listed by the vendor; nothing new, changed or gone.")),
    ).toEqual({
      checked: 0,
      faults: [],
    });
    expect(
      syncNames(
        summary(
          "Sync: 9 licences listed by the vendor; 1 new (first seen at the vendor, not ordered through the desk): web-9 (id 2512190); 3 changed at the vendor: a (id 1), licence 2 and 1 more (GET /licenses).",
        ),
      ),
    ).toEqual({ checked: 2, faults: [] });
    expect(
      syncNames(
        summary(
          "Sync: 9 licences listed by the vendor; 1 changed at the vendor; 2 gone from its list: a (id 1); 1 renamed: b (id 2).",
        ),
      ).faults,
    ).toEqual([
      '2021-06-19 summary: "1 changed at the vendor" names no licence',
      '2021-06-19 summary: "2 gone from its list: a (id 1)" counts 2, names 1',
      '2021-06-19 summary: a sync clause not read: "1 renamed: b (id 2)"',
    ]);
    expect(syncNames(summary("Nothing was synced.")).faults).toEqual([
      '2021-06-19 summary "s": a summary with no Sync line',
    ]);
    expect(syncNames(mail("2021-06-19", "x expires", "Licence:  x (id 7)", "7"))).toEqual({
      checked: 0,
      faults: [],
    });
  });

  it("oneMailPerEvent: one lifecycle mail and one 'cannot be renewed' mail per product and night", () => {
    const about = (kind: string, night: string, product: string, what: string) =>
      sent(kind, "warning", night, `[licence desk] ${product}: ${what}`, "What to do: see above.");
    const mails = [
      about("lifecycle", "2021-06-14", "ISPmanager 5 Lite", "sales and renewals close tomorrow (2021-06-15)"),
      about(
        "lifecycle",
        "2021-06-14",
        "ISPmanager 5 Business",
        "sales and renewals close tomorrow (2021-06-15)",
      ),
      about(
        "cannot_renew",
        "2021-06-15",
        "ISPmanager 5 Lite",
        "renewals closed today: 4 licences cannot be renewed",
      ),
      about("lifecycle", "2021-06-15", "ISPmanager 5 Lite", "sales and renewals closed today (2021-06-15)"),
    ];
    expect(oneMailPerEvent(mails)).toEqual({ checked: 4, faults: [] });
    expect(
      oneMailPerEvent([
        ...mails,
        about(
          "lifecycle",
          "2021-06-14",
          "ISPmanager 5 Lite",
          "last day of licences in 200 days (2021-12-31)",
        ),
        about(
          "cannot_renew",
          "2021-06-15",
          "ISPmanager 5 Lite",
          "renewals closed today: lts-auto cannot be renewed",
        ),
      ]).faults,
    ).toEqual([
      '2021-06-14 lifecycle ISPmanager 5 Lite: 2 mails: "[licence desk] ISPmanager 5 Lite: sales and renewals close tomorrow (2021-06-15)", "[licence desk] ISPmanager 5 Lite: last day of licences in 200 days (2021-12-31)"',
      '2021-06-15 cannot_renew ISPmanager 5 Lite: 2 mails: "[licence desk] ISPmanager 5 Lite: renewals closed today: 4 licences cannot be renewed", "[licence desk] ISPmanager 5 Lite: renewals closed today: lts-auto cannot be renewed"',
    ]);
  });

  it("fieldNames: prose in words; field names and API calls only on How lines", () => {
    const bad = sent(
      "vendor_deleted",
      "critical",
      "2021-06-19",
      "s",
      [
        "Renewal:  renews only by hand (autoRenew is off)",
        "Now:      deleted",
        'The register keeps it, marked deleted, as its order asked (retireOld: "now").',
        "",
        'What to do: renew it: POST /licenses/7/renew with {"period": 12} and a new Idempotency-Key.',
        "",
        "- delete it: DELETE /licenses/7",
      ].join("\n"),
    );
    expect(fieldNames(bad).faults.map((f) => f.replace(/^.*?": (.*) in prose: .*$/, "$1"))).toEqual([
      '"autoRenew is"',
      "the field autoRenew",
      '"Now:"',
      '"The register keeps"',
      "the field retireOld",
      '"a new Idempotency-Key"',
      "the API call POST /l...",
      // A "- " line is an API line only in a How block.
      "the API call DELETE /l...",
    ]);
    const good = sent(
      "expiry",
      "warning",
      "2021-05-17",
      "s",
      [
        "Renewal:  renews only by hand (automatic renewal is off)",
        "",
        "What to do: Renew it by hand by 2021-06-14, or switch automatic renewal on.",
        "",
        "How, through the desk's API:",
        '- renew licence 7 by hand: POST /licenses/7/renew with {"period": 12} and a new Idempotency-Key',
        '- have the watcher renew licence 7: PATCH /licenses/7 with {"autoRenew": 12}',
        "",
        "- id 8: y (1.2.3.5) cannot be renewed: it stops working after 2021-12-31",
        "  What to do: move it to ISPmanager 6 Lite.",
        "  How, through the desk's API:",
        '  - order the successor of licence 8: POST /licenses/8/successor with {"period": 12}',
        'How: DELETE /licenses/7, or PATCH /licenses/7 with {"autoRenew": null}',
      ].join("\n"),
    );
    expect(fieldNames(good)).toEqual({ prose: 4, api: 4, faults: [] });
  });
});
