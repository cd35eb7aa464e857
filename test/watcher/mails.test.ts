import { SNSClient } from "@aws-sdk/client-sns";
import { describe, expect, it, vi } from "vitest";
import { SNS_BODY_MAX_BYTES, snsNotifier } from "../../shared/adapters/sns-notifier.ts";
import { type Alert, digest } from "../../shared/domain/alerts/alerts.ts";
import { addDays } from "../../shared/domain/dates.ts";
import { composeSummary } from "../../shared/domain/night/phases/summary.ts";
import type { LicenceRecord } from "../../shared/domain/ports/licence-store.ts";
import type { NightForecast, NightRecord, NightRenewal } from "../../shared/domain/ports/night-ledger.ts";
import type { Register } from "../../shared/domain/ports/register.ts";
import { BUSINESS, catalogue, licenceRecord, PRICELIST } from "../support/fixtures.ts";
import { defaultSettings } from "../support/watcher.ts";

/**
 * The summary and digests of the worst nights a large fleet can have, from a register held in memory
 * (the DynamoDB paths are the calendar's and the kill tests'): what the mail says, and that it fits SNS.
 */
const settings = defaultSettings();
const NIGHT = "2021-06-08"; // the first night of the early-renewal window before renewals close
const SNS_MAX = 262_144;

function licence(i: number): LicenceRecord {
  return licenceRecord({
    id: String(3_000_000 + i),
    // The longest name the API accepts, and the longest IPv6 text.
    name: `${"x".repeat(56)}-${String(i).padStart(7, "0")}`,
    ip: `2a01:4f8:c17:b8f:1234:5678:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`,
    product: BUSINESS.id,
    pricelist: PRICELIST.business,
    period: 12,
    nodes: 64,
    expiresOn: addDays(NIGHT, 1 + (i % 29)),
    autoRenew: 12,
    updatedAt: `${NIGHT}T02:00:00.000Z`,
  });
}

/** A register holding `licences` and one night record; just what the summary reads. */
function memoryRegister(licences: LicenceRecord[], night: NightRecord): Register {
  const byId = new Map(licences.map((l) => [l.id, l]));
  return {
    nights: { read: async () => night },
    idempotency: { unresolved: async () => [] },
    licences: {
      get: async (id: string) => byId.get(id),
      list: async (query: {
        expiresFrom?: string;
        expiresBefore?: string;
        limit: number;
        cursor?: string;
      }) => {
        const all = licences.filter(
          (l) =>
            (query.expiresFrom === undefined || (l.expiresOn ?? "") >= query.expiresFrom) &&
            (query.expiresBefore === undefined || (l.expiresOn ?? "") < query.expiresBefore),
        );
        const start = Number(query.cursor ?? 0);
        const end = start + query.limit;
        return { items: all.slice(start, end), cursor: end < all.length ? String(end) : undefined };
      },
    },
  } as unknown as Register;
}

function renewal(l: LicenceRecord, outcome: NightRenewal["outcome"], detail?: string): NightRenewal {
  return {
    licenceId: l.id,
    name: l.name,
    outcome,
    from: l.expiresOn,
    to: outcome === "applied" ? "2021-12-31" : undefined,
    period: 12,
    reason: "early",
    detail,
    run: undefined,
    leaseUntil: undefined,
    at: `${NIGHT}T02:10:00.000Z`,
  };
}

const forecast = (overrides: Partial<NightForecast>): NightForecast => ({
  status: "short",
  days: 7,
  currency: "EUR",
  balanceMinor: 10_000,
  balanceText: "100.00 EUR",
  dueMinor: 1_000_000,
  dueCount: 5_000,
  firstDue: NIGHT,
  reason: undefined,
  ...overrides,
});

describe("the summary of the worst night of a 10,000-licence fleet", () => {
  const licences = Array.from({ length: 10_000 }, (_, i) => licence(i));
  const night: NightRecord = {
    renewals: [
      ...licences.slice(0, 6_000).map((l) => renewal(l, "applied")),
      ...licences
        .slice(6_000, 9_000)
        .map((l) => renewal(l, "refused", "Insufficient funds on the account balance")),
      ...licences.slice(9_000).map((l) => renewal(l, "unknown")),
    ],
    alerts: licences.map((l) => ({ subject: `licence:${l.id}`, kind: "renewal_failed", threshold: NIGHT })),
    sync: { listed: 10_000, added: 10_000, updated: 0, gone: 0 },
    forecast: forecast({}),
  };

  it("fits SNS with room to spare, counts every section exactly, and says where the rest are", async () => {
    const summary = (await composeSummary(
      { register: memoryRegister(licences, night), settings, catalogue },
      NIGHT,
      Date.now(),
    )) as Alert;
    const bytes = Buffer.byteLength(summary.body, "utf8");
    console.log(`summary of 10,000 licences: ${bytes.toLocaleString("en-US")} bytes`);
    expect(bytes).toBeLessThan(SNS_BODY_MAX_BYTES);
    expect(bytes).toBeLessThan(64 * 1024); // a mailbox's comfortable size, too
    expect(summary.title.length).toBeLessThan(100);
    // The worst news first; what does not fit is cut at a comma, never mid-word.
    expect(summary.title).toBe(
      `[licence desk] Night ${NIGHT}: 3000 failed, top up 9,900.00 EUR, 1000 awaiting, 6000 renewed, ...`,
    );
    expect(summary.body).toContain("Renewed (6,000):");
    expect(summary.body).toContain("  … and 5,975 more: every renewal of the night is in the watcher's log");
    expect(summary.body).toContain("Failed (3,000):");
    expect(summary.body).toContain("  … and 2,975 more:");
    expect(summary.body).toContain("Awaiting the outcome, not failed (1,000):");
    expect(summary.body).toContain("Expiring in the next 30 days, through 2021-07-08 (10,000):");
    expect(summary.body).toContain(
      "  … and 9,975 more: GET /licenses?expiresBefore=2021-07-09 lists them (with any already expired)",
    );
    expect(summary.body).toContain("Mailed on their own tonight (10000): 10000 renewal failed");
    expect(summary.body).toContain(
      "Balance: 100.00 EUR does not cover the renewals of the next 7 days (5,000 renewals from 2021-06-08, 10,000.00 EUR in all): short by 9,900.00 EUR.",
    );
  });

  it("digests 10,000 alerts of one kind into one mail under SNS's limit, each ledger entry covered", () => {
    const alerts: Alert[] = licences.map((l) => ({
      kind: "cannot_renew",
      severity: "critical",
      title: `[licence desk] ${l.name} (${l.ip}) cannot be renewed: it stops working after 2021-12-31`,
      body: "",
      licenceId: l.id,
      night: NIGHT,
      ledger: { subject: `licence:${l.id}`, threshold: "2021-12-31" },
      action: `move the server to a licence of a product that is still sold before 2021-12-31; nothing can extend this one`,
    }));
    const mail = digest(alerts);
    expect(Buffer.byteLength(mail.body, "utf8")).toBeLessThan(SNS_BODY_MAX_BYTES);
    expect(mail.covers).toHaveLength(10_000);
    expect(mail.title).toBe("[licence desk] 10,000 licences: cannot be renewed");
    expect(mail.body).toContain("… and 9,800 more licences: GET /licenses lists every licence");
  });
});

describe("the balance forecast in the summary", () => {
  const licences = [licence(1)];
  const summaryWith = async (f: NightForecast | undefined) =>
    (
      (await composeSummary(
        {
          register: memoryRegister(licences, {
            renewals: [],
            alerts: [],
            sync: { listed: 1, added: 0, updated: 0, gone: 0 },
            forecast: f,
          }),
          settings,
          catalogue,
        },
        NIGHT,
        Date.now(),
      )) as Alert
    ).body;

  it("says why no forecast could be made, never skips it silently", async () => {
    const body = await summaryWith(
      forecast({
        status: "unavailable",
        balanceMinor: undefined,
        balanceText: undefined,
        dueMinor: 23_000,
        dueCount: 1,
        reason:
          "the balance is in USD (\"1,234.56 USD\") and catalogue prices in EUR; set the catalogue's currency and prices to the account's",
      }),
    );
    expect(body).toContain(
      "Balance: no forecast could be made: the balance is in USD (\"1,234.56 USD\") and catalogue prices in EUR; set the catalogue's currency and prices to the account's. The renewals of the next 7 days: 1 renewal from 2021-06-08, 230.00 EUR in all; check the balance in the vendor's panel.",
    );
  });

  it("says the balance covers the week, or that nothing is due", async () => {
    expect(
      await summaryWith(forecast({ status: "covered", balanceMinor: 50_000, dueMinor: 23_000, dueCount: 1 })),
    ).toContain(
      "Balance: 500.00 EUR covers the renewals of the next 7 days (1 renewal from 2021-06-08, 230.00 EUR in all).",
    );
    expect(await summaryWith(forecast({ status: "nothing_due", dueCount: 0, dueMinor: 0 }))).toContain(
      "Balance: nothing is due in the next 7 days.",
    );
    // A forecast that names its last night (through the eve of a renewals close) says so.
    expect(
      await summaryWith(
        forecast({
          status: "covered",
          balanceMinor: 50_000,
          dueMinor: 23_000,
          dueCount: 1,
          until: "2021-06-14",
        }),
      ),
    ).toContain(
      "Balance: 500.00 EUR covers the renewals from tonight through 2021-06-14 (1 renewal from 2021-06-08, 230.00 EUR in all).",
    );
    expect(
      await summaryWith(forecast({ status: "nothing_due", dueCount: 0, dueMinor: 0, until: "2021-07-07" })),
    ).toContain("Balance: nothing is due from tonight through 2021-07-07.");
  });
});

describe("a mail over SNS's size", () => {
  it("is refused before it is sent, with its size and the limit (so it is logged as undelivered, never cut)", async () => {
    const client = new SNSClient({
      region: "eu-central-1",
      credentials: { accessKeyId: "x", secretAccessKey: "y" },
    });
    const send = vi.spyOn(client, "send");
    const notifier = snsNotifier(client, "arn:aws:sns:eu-central-1:123456789012:alerts");
    const big: Alert = {
      kind: "summary",
      severity: "info",
      title: "[licence desk] Night 2021-06-08",
      body: "x".repeat(SNS_MAX),
      licenceId: undefined,
      night: NIGHT,
      ledger: { subject: "watcher", threshold: `summary:${NIGHT}` },
    };
    await expect(notifier.send(big)).rejects.toThrow("the mail is 262,144 bytes, over the 260,000 SNS takes");
    expect(send).not.toHaveBeenCalled();
    client.destroy();
  });
});
