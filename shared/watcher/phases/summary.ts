import { addDays, type IsoDate } from "../../dates.ts";
import { formatMoney } from "../../money.ts";
import type {
  IdempotencyRecord,
  LicenceRecord,
  NightForecast,
  NightRecord,
  NightRenewal,
  Register,
} from "../../register/types.ts";
import { type Alert, type AlertKind, LIST_MAX } from "../alerts.ts";
import { composedLater, recordAlerts } from "../delivery.ts";
import { fateLine, fateOf } from "../fate.ts";
import type { WatcherDeps } from "../night.ts";
import { isLive } from "../plan.ts";
import { api, count, KIND_NAMES, months } from "../words.ts";
import type { NightRun } from "./run.ts";

/** The night's one summary, in the ledger like every alert: a rerun does not send it again. */
export const summaryLedger = (night: IsoDate) => ({ subject: "watcher", threshold: `summary:${night}` });

/**
 * Records the night's summary as pending. Its mail is composed when it is sent, from the register's
 * record of the night (every run's renewals and alerts), never from this run's memory.
 */
export async function summaryPhase(run: NightRun): Promise<void> {
  const entry = composedLater({ kind: "summary", night: run.night, ledger: summaryLedger(run.night) });
  run.report.alreadySent += await recordAlerts(run.deps.register.alerts, [entry]);
}

/** The night's counts as the register holds them. */
export interface NightCounts {
  renewed: number;
  failed: number;
  /** Sent and not known yet, in flight elsewhere, or held by a run (live or interrupted). */
  awaiting: number;
}

export function nightCounts(record: NightRecord): NightCounts {
  const of = (...outcomes: NightRenewal["outcome"][]) =>
    record.renewals.filter((r) => outcomes.includes(r.outcome)).length;
  return {
    renewed: of("applied"),
    failed: of("refused"),
    awaiting: of("unknown", "pending", "in_flight", "in_progress", "started"),
  };
}

/** Why the watcher renewed a licence, in words. */
function reasonText(reason: string, renewalsCloseOn: string | undefined): string {
  if (reason === "early")
    return `early, before renewals close${renewalsCloseOn ? ` on ${renewalsCloseOn}` : ""}`;
  if (reason === "lapsed") return "after its expiry";
  return "due";
}

/**
 * The summary of a night, from the register. Undefined while a live run still holds one of its
 * renewals: that run sends it when done, so it tells the night's whole story. (A run that dies holding
 * one lets its lease run out; whichever run comes next, a rerun or the next night, sends it then.)
 * Each section gives its exact count and its first licences, with the call or log query that lists the
 * rest, so the mail fits SNS and an inbox whatever the fleet's size.
 */
export async function composeSummary(
  deps: Pick<WatcherDeps, "register" | "settings" | "catalogue">,
  night: IsoDate,
  nowMs: number,
): Promise<Alert | undefined> {
  const record = await deps.register.nights.read(night);
  if (record.renewals.some((r) => r.outcome === "started" && (r.leaseUntil ?? 0) >= nowMs)) return undefined;
  const { settings, catalogue } = deps;
  const soonDays = settings.expiringSoonDays;
  const expiringSoon = await expiring(deps.register, night, soonDays);
  const counts = nightCounts(record);
  const tell = (licence: LicenceRecord) => {
    const product = catalogue.byPricelist(licence.pricelist);
    return fateLine(fateOf(licence, product, night, settings), night, product);
  };
  const by = (...outcomes: NightRenewal["outcome"][]) =>
    record.renewals
      .filter((r) => outcomes.includes(r.outcome))
      .sort((a, b) => a.name.localeCompare(b.name) || a.licenceId.localeCompare(b.licenceId));
  const renewalLog = `every renewal of the night is in the watcher's log, one "renewal" line each (filter: message = "renewal" and night = "${night}")`;
  const section = async (
    heading: string,
    rows: NightRenewal[],
    text: (r: NightRenewal) => string | Promise<string>,
  ): Promise<string[]> => {
    if (rows.length === 0) return [`${heading} (0): none`];
    const shown = rows.slice(0, LIST_MAX);
    return [
      `${heading} (${rows.length.toLocaleString("en-US")}):`,
      ...(await Promise.all(shown.map(async (r) => `  ${r.name} (id ${r.licenceId}): ${await text(r)}`))),
      ...(rows.length > shown.length
        ? [`  … and ${count(rows.length - shown.length, "more", "more")}: ${renewalLog}`]
        : []),
    ];
  };
  const fateOfId = async (id: string) => {
    const licence = await deps.register.licences.get(id);
    return licence ? tell(licence) : "no longer in the register";
  };
  const closeOn = async (id: string) => {
    const licence = await deps.register.licences.get(id);
    return licence && catalogue.byPricelist(licence.pricelist)?.lifecycle.renewalsCloseOn;
  };

  const kinds = new Map<AlertKind, number>();
  const raised = record.alerts.filter((a) => a.kind !== "summary");
  for (const a of raised) kinds.set(a.kind as AlertKind, (kinds.get(a.kind as AlertKind) ?? 0) + 1);
  const shownSoon = expiringSoon.slice(0, LIST_MAX);
  const { sync } = record;

  const lines = [
    `Nightly run for ${night}.`,
    "",
    `Sync: ${count(sync.listed, "licence")} listed by the vendor: ${sync.added} new, ${sync.updated} changed, ${sync.gone} gone.`,
    "",
    ...(await section(
      "Renewed",
      by("applied"),
      async (r) =>
        `${r.from ?? "?"} -> ${r.to ?? "?"}, ${months(r.period)}, ${reasonText(r.reason, await closeOn(r.licenceId))}`,
    )),
    ...(await section(
      "Failed",
      by("refused"),
      async (r) => `${r.detail ?? "refused"}. Now: ${await fateOfId(r.licenceId)}`,
    )),
    ...(counts.awaiting > 0
      ? await section(
          "Awaiting the outcome, not failed",
          by("unknown", "pending", "in_flight", "in_progress", "started"),
          awaitingText,
        )
      : []),
    ...(by("skipped").length > 0
      ? await section("Not renewed after all", by("skipped"), (r) => r.detail ?? "")
      : []),
    ...(await heldByUndecided(deps.register, tell)),
    "",
    forecastLine(record.forecast, night),
    "",
    `Alerts raised tonight (${raised.length}): ${
      [...kinds]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([k, n]) => `${n} ${KIND_NAMES[k] ?? k}`)
        .join(", ") || "none"
    }`,
    "",
    `Expiring in the next ${count(soonDays, "day")}, through ${addDays(night, soonDays)} (${expiringSoon.length.toLocaleString("en-US")}):`,
    ...shownSoon.map((l) => `  ${l.expiresOn}  ${l.name} (id ${l.id}, ${l.ip}): ${tell(l)}`),
    ...(expiringSoon.length > shownSoon.length
      ? [
          `  … and ${count(expiringSoon.length - shownSoon.length, "more", "more")}: GET /licenses?expiresBefore=${addDays(night, soonDays + 1)} lists them (with any already expired)`,
        ]
      : []),
    "",
  ];
  const undecided = (await undecidedRenewals(deps.register)).length;
  const problems = counts.failed + counts.awaiting + undecided;
  const title = [
    `[licence desk] Night ${night}: ${counts.renewed} renewed, ${counts.failed} failed, `,
    counts.awaiting > 0 ? `${counts.awaiting} awaiting, ` : "",
    `${expiringSoon.length} expire in ${count(soonDays, "day")}`,
  ].join("");
  return {
    kind: "summary",
    severity: problems > 0 || record.forecast?.status === "short" ? "warning" : "info",
    // 99 characters at most with five-digit counts; beyond, cut at a comma, never mid-word.
    title: title.length <= 99 ? title : `${title.slice(0, title.lastIndexOf(",", 95))}, ...`,
    body: lines.join("\n"),
    licenceId: undefined,
    night,
    ledger: summaryLedger(night),
  };
}

/** The night's balance forecast in one paragraph: covered, short, or why none was made. */
function forecastLine(forecast: NightForecast | undefined, night: IsoDate): string {
  if (!forecast) return "Balance: no forecast was made tonight.";
  const money = (minor: number | undefined) =>
    formatMoney({ minor: minor ?? 0, currency: forecast.currency });
  const horizon = `the next ${count(forecast.days, "day")}`;
  const due = `${count(forecast.dueCount, "renewal")} from ${forecast.firstDue ?? night}, ${money(forecast.dueMinor)} in all`;
  const note = forecast.reason ? ` Note: ${forecast.reason}.` : "";
  switch (forecast.status) {
    case "nothing_due":
      return `Balance: no renewal is due in ${horizon}.`;
    case "covered":
      return `Balance: ${money(forecast.balanceMinor)} covers the renewals of ${horizon} (${due}).${note}`;
    case "short":
      return `Balance: ${money(forecast.balanceMinor)} does not cover the renewals of ${horizon} (${due}): short by ${money(forecast.dueMinor - (forecast.balanceMinor ?? 0))}. Top up the vendor account ${forecast.firstDue && forecast.firstDue > night ? `before ${forecast.firstDue}` : `now: they are due from ${forecast.firstDue ?? night}`}.${note}`;
    case "unavailable":
      return `Balance: no forecast could be made: ${forecast.reason}. The renewals of ${horizon}: ${due}; check the balance in the vendor's panel.`;
  }
}

function awaitingText(r: NightRenewal): string {
  switch (r.outcome) {
    case "unknown":
    case "pending":
      return "sent, and the vendor has not confirmed it yet. It is never sent again blindly: the reconciler decides it from the vendor's expiry date, and a later summary says which. Do not renew it by hand meanwhile";
    case "in_flight":
      return "another renewal of this licence (through the API) was in flight; nothing was sent tonight";
    case "in_progress":
      return "its renewal was held by another run; nothing was sent by this one";
    default:
      return "taken by a run that was interrupted; the next run finishes it";
  }
}

/** Renewals (any client's, any night's) whose outcome a person must settle: each holds its licence. */
async function undecidedRenewals(register: Register): Promise<IdempotencyRecord[]> {
  return (await register.idempotency.unresolved(1000)).filter(
    (record) => record.undecided !== undefined && record.operation === "renew",
  );
}

/**
 * Every licence held by an undecided renewal, each night until staff settle it: no other renewal of it
 * is sent meanwhile, so it would otherwise lapse in silence.
 */
async function heldByUndecided(
  register: Register,
  tell: (licence: LicenceRecord) => string,
): Promise<string[]> {
  const held = await undecidedRenewals(register);
  if (held.length === 0) return [];
  const lines = await Promise.all(
    held.slice(0, LIST_MAX).map(async (record) => {
      const id = (record.request as { id?: string } | undefined)?.id ?? "?";
      const licence = await register.licences.get(id);
      return [
        `  ${licence?.name ?? "?"} (id ${id}): ${record.undecided?.reason}. Now: ${licence ? tell(licence) : "not in the register"}`,
        `    No renewal or suspend of it is sent until it is settled. Check the vendor's panel, then: ${api.settle(record.scope, record.key)}`,
      ];
    }),
  );
  return [
    `Held by a renewal staff must settle (${held.length.toLocaleString("en-US")}):`,
    ...lines.flat(),
    ...(held.length > LIST_MAX
      ? [`  … and ${count(held.length - LIST_MAX, "more", "more")}: GET /outcomes?state=undecided lists them`]
      : []),
  ];
}

/** Live licences expiring from the night to `days` after it, through the expiry index (a bounded query). */
async function expiring(register: Register, night: IsoDate, days: number): Promise<LicenceRecord[]> {
  const found: LicenceRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await register.licences.list({
      expiresFrom: night,
      expiresBefore: addDays(night, days + 1),
      limit: 1000,
      cursor,
    });
    found.push(...page.items.filter(isLive));
    cursor = page.cursor;
  } while (cursor);
  return found;
}
