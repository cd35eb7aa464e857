import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fleet, OPENING_BALANCE_MINOR } from "../../local/fleet.ts";
import { type ReplayNight, replay } from "../../local/replay.ts";
import { type Sandbox, startSandbox } from "../../sandbox/server.ts";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import { addDays } from "../../shared/domain/dates.ts";
import { allLicences } from "../../shared/domain/night/sync.ts";
import type { LicenceRecord } from "../../shared/domain/ports/licence-store.ts";
import { dynamoClient, freshTable } from "../support/dynamodb.ts";
import { handlerEnv } from "../support/fixtures.ts";
import {
  dayCounts,
  fateContradictions,
  fateStatements,
  renderOutbox,
  wordingFaults,
} from "../support/mail-reading.ts";
import { VENDOR_CREDENTIALS } from "../support/secrets.ts";
import { type OutboxLine, readOutbox, tempDir } from "../support/watcher.ts";

/**
 * The 2021 calendar, end to end: the demo fleet (local/fleet.ts) through every night of 2021, the very
 * Lambda handler against the vendor sandbox over HTTP and a register table on DynamoDB Local. Every
 * expected row below is derived from the fleet and the renewal rules (lead 3 days, early window 7 days
 * before the 2021-06-15 close, cap 2021-12-31 from 2021-04-08; alerts 14/7/3/1 days before an expiry and
 * 30/14/7/1 days before each lifecycle date), and matches `npm run replay`.
 */

let sandbox: Sandbox;
let nights: ReplayNight[];
let outbox: OutboxLine[];
let register: Map<string, LicenceRecord>;
let replayMs = 0;
const out = tempDir("desk-calendar-");
const envBefore = { ...process.env };

beforeAll(async () => {
  sandbox = await startSandbox({ credentials: VENDOR_CREDENTIALS, now: new Date("2021-01-01T00:00:00Z") });
  const client = dynamoClient(inject("dynamodbEndpoint"));
  const table = await freshTable(client, "calendar");
  const outboxFile = join(out.dir, "outbox.jsonl");
  const started = performance.now();
  nights = await replay({
    from: "2021-01-01",
    to: "2021-12-31",
    sandbox,
    env: { ...handlerEnv({ vendorUrl: sandbox.url, table }), OUTBOX_FILE: outboxFile },
  });
  replayMs = performance.now() - started;
  console.log(`calendar: 365 nights replayed on DynamoDB Local in ${(replayMs / 1000).toFixed(1)} s`);
  outbox = readOutbox(outboxFile);
  register = await allLicences(createDynamoRegister({ client, tableName: table }).licences);
  client.destroy();
}, 180_000);

afterAll(async () => {
  await sandbox?.close();
  out.remove();
  for (const name of Object.keys(process.env)) if (!(name in envBefore)) delete process.env[name];
  Object.assign(process.env, envBefore);
});

const nameOf = (id: string | null) => (id ? (register.get(id)?.name ?? `? ${id}`) : "-");
const night = (date: string) => nights.find((n) => n.night === date) as ReplayNight;

type Renewed = [night: string, name: string, from: string, to: string, period: number, reason: string];

/** Every renewal of the year. */
const RENEWALS: Renewed[] = [
  // lts-auto: bought before capFrom, monthly; on 2021-04-28 the next monthly night (2021-05-29) is still
  // before the close, so monthly again; on 2021-05-29 the next would be 2021-06-28: to the cap.
  ["2021-03-29", "lts-auto", "2021-04-01", "2021-05-01", 1, "due"],
  ["2021-04-28", "lts-auto", "2021-05-01", "2021-06-01", 1, "due"],
  // window-auto: its next monthly night would be 2021-06-17, after the close: straight to the cap.
  ["2021-05-17", "window-auto", "2021-05-20", "2021-12-31", 12, "due"],
  ["2021-05-29", "lts-auto", "2021-06-01", "2021-12-31", 12, "due"],
  // cluster: due 2021-06-07, refused (balance); renewed the night after the top-up.
  ["2021-06-08", "cluster", "2021-06-10", "2021-12-31", 12, "due"],
  // after-close: normal night 2021-06-17 is after the close: early, on the first night of the window.
  ["2021-06-08", "after-close", "2021-06-20", "2021-12-31", 12, "early"],
  // before-close: normal night 2021-06-11, before the close.
  ["2021-06-11", "before-close", "2021-06-14", "2021-12-31", 12, "due"],
];

type Said = [night: string, kind: string, who: string, detail: string | number];

const LITE = "ISPmanager 5 Lite";
const BUSINESS = "ISPmanager 5 Business";
const lifecycle = (date: string, event: string, days: number): Said[] => [
  [date, "lifecycle", LITE, `${event} ${days}`],
  [date, "lifecycle", BUSINESS, `${event} ${days}`],
];
/** Sales and renewals close the same day: one mail per product. */
const closing = (date: string, days: number): Said[] => lifecycle(date, "sales and renewals close", days);
/** Licences end on 2021-12-31 and support the day after: one mail per product, on the earlier date's nights. */
const ending = (date: string, days: number): Said[] =>
  lifecycle(date, "last day of licences and support", days);
const AT_CAP = ["lts-auto", "cluster", "window-auto", "before-close", "after-close"];

/** Every alert of the year but the nightly summaries. */
const ALERTS: Said[] = [
  // The forecast covers every renewal through the eve of the 2021-06-15 close (the horizon's 30 nights
  // are shorter until mid-May), each of a monthly licence's counted: the opening 300.00 EUR falls short
  // as soon as cluster (230.00 on 2021-06-07) joins lts-auto's 6.00 + 6.00 + 60.00, and each licence
  // bought after adds its renewal before the close: window-auto, before-close, after-close, 60.00 each.
  // One mail per shortfall, the whole amount a single top-up must cover, weeks before the first failure.
  // The cap of 2021-04-08 (renewals and orders end on 2021-12-31 at the latest) is a vendor date like
  // the others: announced 30, 14, 7 and 1 days ahead, with what it means for licences bought before it.
  // The balance is read after each night's charges, against what is due from the next night on. A
  // shortfall is a warning while its first payment is more than a week off, and told once more,
  // critical, a week before it (once per amount: told urgent, it is not told again as a warning).
  ...lifecycle("2021-03-09", "renewals capped", 30),
  ["2021-03-10", "low_balance", "account", "short 2.00 EUR from 2021-03-29"],
  ["2021-03-22", "low_balance", "account", "short 2.00 EUR from 2021-03-29"],
  ...lifecycle("2021-03-25", "renewals capped", 14),
  ...lifecycle("2021-04-01", "renewals capped", 7),
  ...lifecycle("2021-04-07", "renewals capped", 1),
  ["2021-04-20", "low_balance", "account", "short 62.00 EUR from 2021-04-28"],
  ["2021-04-21", "low_balance", "account", "short 62.00 EUR from 2021-04-28"],
  ["2021-05-14", "low_balance", "account", "short 122.00 EUR from 2021-05-17"],
  ["2021-05-20", "low_balance", "account", "short 182.00 EUR from 2021-05-29"],
  ["2021-05-22", "low_balance", "account", "short 182.00 EUR from 2021-05-29"],
  // lts-manual (no autoRenew, expires 2021-05-20): warned 14, 7, 3, 1 days before; the vendor suspends it
  // the day after, and deletes it 30 days after its expiry.
  ["2021-05-06", "expiry", "lts-manual", 14],
  ["2021-05-13", "expiry", "lts-manual", 7],
  ...closing("2021-05-16", 30),
  ["2021-05-17", "expiry", "lts-manual", 3],
  ["2021-05-19", "expiry", "lts-manual", 1],
  // Suspended for non-payment the day after its expiry: the vendor's usual course, told by the
  // expired alert alone (no "suspended by the vendor" story beside it).
  ["2021-05-21", "expired", "lts-manual", ""],
  ...closing("2021-06-01", 14),
  ["2021-06-07", "renewal_failed", "cluster", ""],
  // The top-up of 2021-06-08 covers what is due again, and cluster's failed renewal goes through: each
  // told once.
  ["2021-06-08", "balance_covered", "-", ""],
  ["2021-06-08", "renewal_recovered", "cluster", ""],
  ...closing("2021-06-08", 7),
  ...closing("2021-06-14", 1),
  // Renewals closed: every licence with autoRenew will end at its expiry; one mail per product.
  ["2021-06-15", "cannot_renew", BUSINESS, 2],
  ["2021-06-15", "cannot_renew", LITE, 4],
  ["2021-06-19", "vendor_deleted", "lts-manual", "deleted"],
  // Suspended before its expiry (2022-04-01), not by us: a story of its own.
  ["2021-07-01", "vendor_suspended", "suspended-upstream", ""],
  ["2021-08-02", "vendor_deleted", "deleted-upstream", "deleted"],
  // (2021-09-01: deleted-upstream leaves the vendor's list; it was already deleted: nothing to say.)
  // A licence that is down is never forgotten: a reminder each week it stays down. lts-manual lapsed
  // on 2021-05-20 (down from 2021-05-21) until the vendor deleted it on 2021-06-19; suspended-upstream
  // is suspended by the vendor from 2021-07-01 to the end of the year.
  // The weekly reminders ride in the Monday summaries (see REMINDED); a mail of its own only when the
  // vendor deletes the licence within a week.
  ["2021-06-12", "still_down", "lts-manual", ""],
  // The move to ISPmanager 6 (local/fleet.ts, resellerEvents): lts-long's successor, planned for
  // 2021-12-01 at 190.00 EUR, is within 30 nights from 2021-11-01; once before-close's successor is
  // bought by hand on 2021-11-02 (retireOld "now": retired that day, and told so) the balance (178.00)
  // falls short by 12.00; the three planned for 2021-12-17 (250.00 + 70.00 + 70.00) join on
  // 2021-11-18: short by 402.00. The top-up of 2021-11-29 covers it all, and says so.
  ["2021-11-02", "licence_retired", "before-close", ""],
  ["2021-11-02", "low_balance", "account", "short 12.00 EUR from 2021-12-01"],
  ["2021-11-17", "low_balance", "account", "short 402.00 EUR from 2021-12-01"],
  ["2021-11-24", "low_balance", "account", "short 402.00 EUR from 2021-12-01"],
  ["2021-11-29", "balance_covered", "-", ""],
  ["2021-12-01", "successor_ordered", "lts-long", ""],
  ...ending("2021-12-01", 30),
  // The planned successors of the licences that stop after 2021-12-31 are ordered 14 days before; from
  // then on every licence at the cap is succeeded (after-close by hand on 2021-10-04, before-close by
  // hand and retired at once on 2021-11-02): no expiry warnings to act on.
  ...["cluster", "lts-auto", "window-auto"].map((n): Said => ["2021-12-17", "successor_ordered", n, ""]),
  ...ending("2021-12-17", 14),
  ...ending("2021-12-24", 7),
  ...ending("2021-12-30", 1),
];

/**
 * The nights a summary is mailed (SUMMARY_MAILS=changes_weekly): those with news only a summary tells (a
 * renewal, whatever came of it, or a change the sync found; alerts and shortfalls are mails of their
 * own) and every Monday, judged from what each night's run reported, not from the register the summary
 * reads.
 */
function SUMMARY_NIGHTS(): string[] {
  return nights
    .filter((n) => {
      const { result } = n;
      const news =
        result.renewed.length + result.failed.length + result.unknown.length > 0 ||
        result.sync.added + result.sync.updated + result.sync.gone > 0 ||
        result.forecast?.status === "unavailable";
      return news || new Date(`${n.night}T00:00:00Z`).getUTCDay() === 1;
    })
    .map((n) => n.night);
}

/**
 * The Monday summaries that carry a licence's weekly "still down" reminder: from its first Monday a
 * week or more after it went down through `last`. lts-manual lapsed on 2021-05-20 (down from 05-21;
 * from 06-12 the vendor deletes it within the week, told in its own mail); suspended-upstream is
 * suspended by the vendor from 2021-07-01 to the year's end.
 */
const REMINDED: Array<[name: string, first: string, last: string]> = [
  ["lts-manual", "2021-05-31", "2021-06-07"],
  ["suspended-upstream", "2021-07-12", "2021-12-27"],
];
function mondays(first: string, last: string): string[] {
  const out: string[] = [];
  for (let on = first; on <= last; on = addDays(on, 7)) out.push(on);
  return out;
}

/** An outbox line as a row of the table above. */
function said(line: OutboxLine): Said {
  const s = line.subject;
  switch (line.kind) {
    case "expiry": {
      const m = /expires (?:in (\d+) days|(tomorrow)|(today)) \(/.exec(s);
      const days = m?.[1] ? Number(m[1]) : m?.[2] ? 1 : m?.[3] ? 0 : Number.NaN;
      return [line.night, line.kind, nameOf(line.licenceId), days];
    }
    case "lifecycle": {
      const m =
        /^\[licence desk\] (.+?): (.+) (?:in (\d+) days?|(tomorrow)|(today)) \(\d{4}-\d{2}-\d{2}\)$/.exec(s);
      const days = m?.[3] ? Number(m[3]) : m?.[4] ? 1 : m?.[5] ? 0 : Number.NaN;
      return [line.night, line.kind, m?.[1] ?? s, `${m?.[2]} ${days}`];
    }
    case "low_balance": {
      const m =
        /Balance short by (\S+ EUR) for (?:renewals|successor orders|renewals and successor orders) due .*\((\S+)\)$/.exec(
          s,
        );
      return [line.night, line.kind, "account", `short ${m?.[1]} from ${m?.[2]}`];
    }
    case "cannot_renew": {
      const m = /^\[licence desk\] (.+?): renewals closed .*: (\d+) licences? cannot be renewed$/.exec(s);
      return m
        ? [line.night, line.kind, m[1] as string, Number(m[2])]
        : [line.night, line.kind, nameOf(line.licenceId), /stops working after (\S+)$/.exec(s)?.[1] ?? s];
    }
    case "vendor_deleted":
      return [line.night, line.kind, nameOf(line.licenceId), s.includes("Gone from") ? "gone" : "deleted"];
    default:
      return [line.night, line.kind, nameOf(line.licenceId), ""];
  }
}

/** The sandbox's prices (README): Lite 6.00/60.00, Business 14.00/140.00 plus 3.00/30.00 per node. */
function price(name: string, period: number): number {
  const licence = fleet.find((l) => l.name === name);
  if (!licence) throw new Error(name);
  if (licence.pricelist === "3541") return period === 12 ? 6_000 : 600;
  return (period === 12 ? 14_000 : 1_400) + (licence.nodes ?? 1) * (period === 12 ? 3_000 : 300);
}
const TOP_UPS: Record<string, number> = { "2021-06-08": 50_000, "2021-11-29": 50_000 };
/** The ISPmanager 6 successors, a year each at the sandbox's prices: Lite 70.00, Business 160.00 + 30.00 a node. */
const SUCCESSORS: Array<[night: string, name: string, minor: number]> = [
  ["2021-10-04", "after-close", 7_000],
  ["2021-11-02", "before-close", 7_000],
  ["2021-12-01", "lts-long", 16_000 + 3_000],
  ["2021-12-17", "cluster", 16_000 + 3 * 3_000],
  ["2021-12-17", "lts-auto", 7_000],
  ["2021-12-17", "window-auto", 7_000],
];

const byRow = (a: readonly unknown[], b: readonly unknown[]) =>
  JSON.stringify(a).localeCompare(JSON.stringify(b));

describe("the 2021 calendar, night by night", () => {
  it("runs all 365 nights", () => {
    expect(nights).toHaveLength(365);
    expect(nights[0]?.night).toBe("2021-01-01");
    expect(nights.at(-1)?.night).toBe("2021-12-31");
    expect(new Set(nights.map((n) => n.night)).size).toBe(365);
  });

  it("renews exactly these licences, on these nights, from -> to, for these periods and reasons", () => {
    const renewed = nights.flatMap((n) =>
      n.result.renewed.map((r): Renewed => [n.night, r.name, r.from ?? "", r.to ?? "", r.period, r.reason]),
    );
    expect(renewed.sort(byRow)).toEqual([...RENEWALS].sort(byRow));
    // Each renewal was one vendor call; the refused one is the eighth.
    expect(sandbox.callCount("service.prolong")).toBe(RENEWALS.length + 1);
    expect(nights.flatMap((n) => n.result.unknown)).toEqual([]);
    expect(nights.flatMap((n) => n.result.busy)).toEqual([]);
  });

  it("fails one renewal: cluster on 2021-06-07 (insufficient funds), renewed the next night after the top-up", () => {
    const failed = nights.flatMap((n) => n.result.failed.map((f) => [n.night, f.name, f.reason]));
    expect(failed).toEqual([["2021-06-07", "cluster", "Insufficient funds on the account balance"]]);
    expect(night("2021-06-08").events).toContain("the reseller tops up the vendor balance by 500.00 EUR");
    expect(
      night("2021-06-08")
        .result.renewed.map((r) => r.name)
        .sort(),
    ).toEqual(["after-close", "cluster"]);
    const alert = outbox.find((l) => l.kind === "renewal_failed");
    expect(alert?.body).toContain(
      "The vendor refused tonight's renewal, so nothing was charged. Its reason: Insufficient funds on the account balance.",
    );
    expect(alert?.body).toContain("What happens next: the watcher tries again tomorrow (2021-06-08)");
  });

  it("sends exactly these alerts, on these nights (summaries aside)", () => {
    const rows = outbox.filter((l) => l.kind !== "summary").map(said);
    expect(rows.sort(byRow)).toEqual([...ALERTS].sort(byRow));
    // And each night's alerts are what that night's run reported sending.
    for (const n of nights) expect(n.alerts.length).toBe(n.result.alertsSent);
    expect(outbox).toHaveLength(ALERTS.length + SUMMARY_NIGHTS().length);
  });

  it("sends a summary on each night with news and on every Monday (the weekly one), none on a quiet night, each counting that night's renewals and failures", () => {
    const summaries = outbox.filter((l) => l.kind === "summary");
    expect(summaries.map((l) => l.night)).toEqual(SUMMARY_NIGHTS());
    // The year's quiet nights far outnumber the others: silence is the usual night.
    expect(summaries.length).toBeLessThan(200);
    for (const n of nights.filter((n) => SUMMARY_NIGHTS().includes(n.night))) {
      const summary = n.alerts.filter((a) => a.kind === "summary");
      expect(summary).toHaveLength(1);
      // The subject counts what the mail tells, the worst first, and leaves out what is nothing.
      const subject = summary[0]?.subject ?? "";
      expect(subject.startsWith(`[licence desk] Night ${n.night}: `)).toBe(true);
      expect(subject.includes("top up ")).toBe(n.result.forecast?.status === "short");
      const { renewed, failed } = n.result;
      if (renewed.length > 0) expect(subject).toContain(`${renewed.length} renewed`);
      else expect(subject).not.toMatch(/\d+ renewed/);
      if (failed.length > 0) expect(subject).toContain(`${failed.length} failed`);
      else expect(subject).not.toMatch(/\d+ failed/);
      expect(subject).not.toMatch(/\b0 /);
    }
    expect(night("2021-06-07").alerts.find((a) => a.kind === "summary")?.severity).toBe("warning");
    expect(night("2021-06-08").alerts.find((a) => a.kind === "summary")?.severity).toBe("info");
  });

  it("reminds staff each Monday of every licence still down, in the summary, with what to do and when it ends", () => {
    const carrying = (name: string) =>
      outbox
        .filter((m) => m.kind === "summary")
        .filter((m) => {
          const section = m.body.split("\n\n").find((p) => p.startsWith("Still down, reminded each week"));
          return section?.includes(`: ${name} (`) ?? false;
        });
    for (const [name, first, last] of REMINDED) {
      const mails = carrying(name);
      expect(
        mails.map((m) => m.night),
        name,
      ).toEqual(mondays(first, last));
      for (const mail of mails) {
        expect(mail.subject).toMatch(/: (?:\d+ failed, )?(?:top up \S+ EUR, )?\d+ licences? down\b/);
        expect(mail.severity).toBe("warning");
        const section = mail.body.split("\n\n").find((p) => p.startsWith("Still down")) ?? "";
        expect(section).toMatch(/What to do: \S/);
        expect(section).toMatch(
          name === "lts-manual" ? /deletes a lapsed licence .* around 2021-06-19/ : /expiry \(2022-04-01\)/,
        );
      }
    }
  });

  it("names every licence its sync line counts: changed at the vendor, gone from its list", () => {
    const syncLine = (date: string) =>
      outbox
        .find((m) => m.kind === "summary" && m.night === date)
        ?.body.split("\n")
        .find((line) => line.startsWith("Sync: "));
    const idOf = (name: string) => [...register.values()].find((r) => r.name === name)?.id;
    expect(syncLine("2021-07-01")).toBe(
      `Sync: 9 licences listed by the vendor; 1 changed at the vendor: suspended-upstream (id ${idOf("suspended-upstream")}).`,
    );
    expect(syncLine("2021-09-01")).toBe(
      `Sync: 8 licences listed by the vendor; 1 gone from its list: deleted-upstream (id ${idOf("deleted-upstream")}).`,
    );
    // Every count it gives is followed by the names it counts.
    for (const mail of outbox.filter((m) => m.kind === "summary")) {
      const line = mail.body.split("\n").find((l) => l.startsWith("Sync: ")) ?? "";
      expect(line, mail.night).toMatch(/; (nothing new, changed or gone|(\d+ [^:]+: [^;]+(; )?)+)\.$/);
    }
  });

  it("keeps every alert title within 100 characters", () => {
    const long = outbox.filter((l) => l.subject.length > 100 || /[\r\n]/.test(l.subject));
    expect(long).toEqual([]);
  });

  it("debits the balance at the sandbox's prices, night by night: renewals, two top-ups of 500.00 EUR, six ISPmanager 6 successors", () => {
    let expected = OPENING_BALANCE_MINOR;
    const wanted: Array<[string, number]> = [];
    for (const n of nights) {
      expected += TOP_UPS[n.night] ?? 0;
      for (const r of RENEWALS.filter(([on]) => on === n.night)) expected -= price(r[1], r[4]);
      for (const [, , minor] of SUCCESSORS.filter(([on]) => on === n.night)) expected -= minor;
      wanted.push([n.night, expected]);
    }
    expect(nights.map((n) => [n.night, n.balanceMinor])).toEqual(wanted);
    // The checkpoints, spelled out: 300 - 6 - 6 - 60 - 60 = 168 before the Business renewal (230) that
    // it cannot cover; 168 + 500 - 230 - 60 = 378; - 60 = 318; - 70 - 70 by hand = 178; + 500 = 678;
    // - 190 (lts-long's) = 488; - 250 - 70 - 70 (the three planned for 2021-12-17) = 98.
    expect(night("2021-06-07").balanceMinor).toBe(16_800);
    expect(night("2021-06-08").balanceMinor).toBe(37_800);
    expect(night("2021-11-24").balanceMinor).toBe(17_800);
    expect(night("2021-12-01").balanceMinor).toBe(48_800);
    expect(night("2021-12-31").balanceMinor).toBe(9_800);
    expect(sandbox.state.balanceMinor).toBe(30_000 - 48_200 + 100_000 - 72_000);
    // One order per successor, ever: six in all.
    expect(sandbox.callCount("soft.order.param")).toBe(SUCCESSORS.length);
  });

  it("ends the year with the fleet as the vendor and the register see it: every running server carried to ISPmanager 6", () => {
    const vendor = sandbox.state
      .list()
      .map((l) => [l.licname, generation(l.pricelist), l.status, l.expiredate]);
    expect(vendor).toEqual([
      ["lts-manual", "5", "4", "2021-05-20"],
      ["lts-auto", "5", "2", "2021-12-31"],
      ["lts-long", "5", "2", "2022-03-01"],
      ["cluster", "5", "2", "2021-12-31"],
      ["suspended-upstream", "5", "3", "2022-04-01"],
      ["window-auto", "5", "2", "2021-12-31"],
      // Retired at once when its successor was placed (retireOld: "now").
      ["before-close", "5", "4", "2021-12-31"],
      ["after-close", "5", "2", "2021-12-31"],
      ["after-close", "6", "2", "2022-10-04"],
      ["before-close", "6", "2", "2022-11-02"],
      ["lts-long", "6", "2", "2022-12-01"],
      ["lts-auto", "6", "2", "2022-12-17"],
      ["cluster", "6", "2", "2022-12-17"],
      ["window-auto", "6", "2", "2022-12-17"],
    ]);
    const records = [...register.values()]
      .map((r) => [r.name, r.product ?? r.pricelist, r.status, r.expiresOn, r.goneSince ?? null])
      .sort(byRow);
    expect(records).toEqual(
      [
        ["lts-manual", "ispmanager5-lite", "deleted", "2021-05-20", null],
        ["lts-auto", "ispmanager5-lite", "active", "2021-12-31", null],
        ["lts-long", "ispmanager5-business", "active", "2022-03-01", null],
        ["cluster", "ispmanager5-business", "active", "2021-12-31", null],
        ["suspended-upstream", "ispmanager5-lite", "suspended", "2022-04-01", null],
        ["window-auto", "ispmanager5-lite", "active", "2021-12-31", null],
        ["before-close", "ispmanager5-lite", "deleted", "2021-12-31", null],
        ["after-close", "ispmanager5-lite", "active", "2021-12-31", null],
        ["deleted-upstream", "ispmanager5-lite", "deleted", "2022-04-02", "2021-09-01"],
        ["after-close", "ispmanager6-lite", "active", "2022-10-04", null],
        ["before-close", "ispmanager6-lite", "active", "2022-11-02", null],
        ["lts-long", "ispmanager6-business", "active", "2022-12-01", null],
        ["lts-auto", "ispmanager6-lite", "active", "2022-12-17", null],
        ["cluster", "ispmanager6-business", "active", "2022-12-17", null],
        ["window-auto", "ispmanager6-lite", "active", "2022-12-17", null],
      ].sort(byRow),
    );
    // Each old licence that runs names its successor, and each successor its predecessor; the plans
    // are marked carried out, the hand-ordered ones need none.
    for (const old of [...register.values()].filter((r) => r.successorId !== undefined)) {
      expect(register.get(old.successorId ?? "")?.predecessorId, old.name).toBe(old.id);
      expect(register.get(old.successorId ?? "")?.ip, old.name).toBe(old.ip);
    }
    const moved = [...register.values()].filter((r) => r.successorId !== undefined).map((r) => r.name);
    expect(moved.sort()).toEqual([
      "after-close",
      "before-close",
      "cluster",
      "lts-auto",
      "lts-long",
      "window-auto",
    ]);
    const planned = [...register.values()].filter((r) => r.successorPlan?.orderedOn !== undefined);
    expect(planned.map((r) => [r.name, r.successorPlan?.orderedOn]).sort(byRow)).toEqual(
      [
        ["cluster", "2021-12-17"],
        ["lts-auto", "2021-12-17"],
        ["lts-long", "2021-12-01"],
        ["window-auto", "2021-12-17"],
      ].sort(byRow),
    );
    // The ISPmanager 6 Business successors kept their nodes.
    expect(
      [...register.values()]
        .filter((r) => r.product === "ispmanager6-business")
        .map((r) => [r.name, r.nodes])
        .sort(byRow),
    ).toEqual([
      ["cluster", 3],
      ["lts-long", 1],
    ]);
  });
});

/** The generation of a vendor pricelist: "5" or "6". */
function generation(pricelist: string): string {
  return ["55227", "55228", "55229", "55230"].includes(pricelist) ? "6" : "5";
}

/** The replay's outbox as people read it; `UPDATE_GOLDEN=1 npx vitest run test/watcher/calendar.test.ts` rewrites it. */
const GOLDEN = join(import.meta.dirname, "golden", "replay-2021-outbox.txt");

describe("the 2021 outbox, read as the billing team reads it", () => {
  it("never tells a licence it renews automatically on or after a night it was told it cannot be renewed", () => {
    const statements = outbox.flatMap(fateStatements);
    // The check reads real statements of both kinds, so it could fail.
    expect(statements.filter((f) => f.says === "renews automatically").length).toBeGreaterThan(30);
    expect(statements.filter((f) => f.says === "cannot be renewed").length).toBeGreaterThan(30);
    expect(fateContradictions(outbox)).toEqual([]);
  });

  it("names the way forward: ISPmanager 6, priced, and the call that moves each licence; never an order of a product no longer sold", () => {
    const late = outbox.filter((m) => m.night >= "2021-06-15");
    for (const mail of late) {
      expect(mail.body, mail.subject).not.toContain("order a new one (POST /licenses)");
      expect(mail.body, mail.subject).not.toContain('"product": "ispmanager5-');
      expect(mail.body, mail.subject).not.toContain("a product that is still sold");
    }
    // The mails whose "What to do" is the licence's fate's (a suspension's or a deletion's says its own):
    // one licence's, or one product's (each licence an item "- id N: ...").
    const ends = late.filter(
      (m) =>
        ["cannot_renew", "expiry", "expired"].includes(m.kind) &&
        (/^Renewal: +cannot be renewed/m.test(m.body) || /^- id \d+: .* cannot be renewed/m.test(m.body)),
    );
    const told = ends.flatMap((m) =>
      m.licenceId ? [m.licenceId] : [...m.body.matchAll(/^- id (\d+): /gm)].map((x) => x[1] as string),
    );
    expect(told.sort()).toEqual(
      [...AT_CAP, "lts-long"].map((n) => [...register.values()].find((l) => l.name === n)?.id).sort(),
    );
    for (const mail of ends) {
      for (const id of told.filter((i) => mail.licenceId === i || mail.body.includes(`- id ${i}: `)))
        expect(mail.body, mail.subject).toContain(`POST /licenses/${id}/successor`);
      expect(mail.body, mail.subject).toMatch(/ISPmanager 6 (Lite|Business) \(\d+\.\d\d EUR a year/);
    }
  });

  it("counts every day it names from the night to the date beside it", () => {
    const results = outbox.map(dayCounts);
    expect(results.reduce((n, r) => n + r.checked, 0)).toBeGreaterThan(120);
    expect(results.flatMap((r) => r.wrong)).toEqual([]);
  });

  it("has no (s) plurals, placeholders, raw kind names or template leftovers, and subjects under 100 characters", () => {
    const faults = outbox.flatMap((m) => wordingFaults(m).map((f) => `${m.night} ${m.subject}: ${f}`));
    expect(faults).toEqual([]);
    // Every API call a sentence marks is taken out of it and given on a "How" line: none left marked.
    const marked = outbox.filter((m) => /[\uE000-\uE002]/.test(m.subject + m.body)).map((m) => m.subject);
    expect(marked).toEqual([]);
    expect(outbox.filter((m) => m.body.includes("How, through the desk's API:")).length).toBeGreaterThan(10);
  });

  it("says what to do in every mail about a licence, with its id filled in", () => {
    for (const mail of outbox.filter((m) => m.licenceId)) {
      expect(mail.body, mail.subject).toMatch(/^What to do: \S/m);
      expect(mail.body, mail.subject).toContain(`(id ${mail.licenceId})`);
    }
  });

  it("mails a low balance again only when the shortfall changes", () => {
    const subjects = outbox.filter((m) => m.kind === "low_balance").map((m) => m.subject);
    expect(new Set(subjects).size).toBe(subjects.length);
  });

  it("matches the golden outbox kept in the repo (review the diff when the wording changes)", () => {
    const text = renderOutbox(outbox);
    if (process.env.UPDATE_GOLDEN === "1" || !existsSync(GOLDEN)) {
      mkdirSync(dirname(GOLDEN), { recursive: true });
      writeFileSync(GOLDEN, text);
    }
    expect(text).toBe(readFileSync(GOLDEN, "utf8"));
  });
});
