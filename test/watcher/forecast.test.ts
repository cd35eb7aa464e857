import { afterEach, describe, expect, it } from "vitest";
import { fleetLicence, type WatchHarness, watchHarness } from "../support/watcher.ts";

/**
 * The balance forecast asks once for everything due before the money runs out: every renewal of each
 * licence (a monthly one counted each month), through 30 nights or the eve of the next renewals close,
 * whichever is later; and says once when a shortfall is covered.
 */
let h: WatchHarness;
afterEach(() => h.close());
const sent = (kind: string) =>
  (h.notifier as unknown as { sent: { kind: string; title: string; body: string }[] }).sent.filter(
    (a) => a.kind === kind,
  );

describe("the balance forecast", () => {
  it("counts each renewal of a monthly licence through the eve of the close, asks for the whole shortfall once, and says when it is covered", async () => {
    h = await watchHarness({ now: "2021-03-01", tablePrefix: "forecast", balanceMinor: 1_000 });
    await h.seed(fleetLicence({ name: "monthly", ip: "10.9.0.1", expiredate: "2021-03-05", autoRenew: 1 }));
    await h.run("2021-03-01");
    const short = sent("low_balance");
    expect(short).toHaveLength(1);
    // Renewed on 03-02, 04-01, 05-02 (a month each, 6.00), then on 06-01 to the cap before renewals close
    // on 06-15 (12 months, 60.00): 78.00 in all, against 10.00.
    expect(short[0]?.title).toBe(
      "[licence desk] Balance short by 68.00 EUR for renewals due tomorrow (2021-03-02)",
    );
    expect(short[0]?.body).toContain(
      "The 4 renewals the watcher will make from tomorrow through 2021-06-14 cost 78.00 EUR",
    );
    expect(short[0]?.body.match(/monthly \(id \d+\): /g)).toHaveLength(4);
    expect(short[0]?.body).toContain("top up the vendor account by at least 68.00 EUR before 2021-03-02");
    // The next night renews it (10.00 pays 6.00), and 4.00 is left against the next three: 68.00 short
    // again, first due a month off. Told as urgent already, it is not mailed again as a warning.
    await h.run("2021-03-02");
    expect(sent("low_balance")).toHaveLength(1);
    expect(sent("balance_covered")).toEqual([]);

    h.vendor.sandbox.state.setBalance(100_000);
    await h.run("2021-03-03");
    const covered = sent("balance_covered");
    expect(covered).toHaveLength(1);
    expect(covered[0]?.title).toBe("[licence desk] Balance covers what is due again: 1,000.00 EUR");
    expect(covered[0]?.body).toContain("What to do: nothing.");
    await h.run("2021-03-04");
    expect(sent("balance_covered")).toHaveLength(1);
  });
});
