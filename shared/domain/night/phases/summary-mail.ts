import { KIND_NAMES } from "../../alerts/alert-kinds.ts";
import { type Alert, type AlertKind, LIST_MAX } from "../../alerts/alerts.ts";
import { ledgerText } from "../../alerts/send-pending.ts";
import { addDays, addMonths, daysBetween, type IsoDate } from "../../dates.ts";
import { formatMoney } from "../../money.ts";
import { alertKeyText } from "../../ports/alert-ledger.ts";
import type { IdempotencyRecord } from "../../ports/intent-store.ts";
import type { LicenceRecord } from "../../ports/licence-store.ts";
import type { NightForecast, NightRecord, NightRenewal, NightSync } from "../../ports/night-ledger.ts";
import { fateLine, fateOf, licenceState, plannedWords, renewalWords } from "../../renewal/fate.ts";
import { type RenewPeriod, renewalCost } from "../../renewal/renewal-rules.ts";
import { api, count, fromNight, howLines, splitCalls } from "../../wording.ts";
import type { NightCounts, WatcherDeps } from "../night-types.ts";
import { arrivalThreshold } from "./arrival-expiry.ts";
import { plannedOf } from "./run.ts";

/**
 * Everything the night's summary tells, as read from the register before a word of it is written:
 * rendering it (`renderSummary`) reads nothing more.
 */
export interface SummaryFacts {
  night: IsoDate;
  /** The register's record of the night: every run's renewals and alerts, the sync, the forecast. */
  record: NightRecord;
  /** Live licences expiring from the night to `expiringSoonDays` after it. */
  expiringSoon: LicenceRecord[];
  /** Renewals (any client's, any night's) whose outcome a person must settle. */
  undecided: IdempotencyRecord[];
  /** The licences the mail names (`namedLicences`) that the register has, as it has them now. */
  licences: ReadonlyMap<string, LicenceRecord>;
  /** On the weekly night, the six nights before it (their summaries may not have been mailed). */
  week?: NightRecord[];
  /** Weekly reminders this summary carries (licences still down), each marked sent with it. */
  reminders?: readonly Alert[];
}

/** The night of the weekly summary: Mondays, by the night's own date. */
export const isWeeklyNight = (night: IsoDate): boolean => new Date(`${night}T00:00:00Z`).getUTCDay() === 1;

/**
 * Whether the night has anything only its summary tells: a renewal (whatever came of it), a change the
 * sync found, or a balance that could not be read. Alerts are mailed on their own, and a shortfall is
 * one (once per amount, again a week before it is due), so a night with only those sends no summary
 * unless `SUMMARY_MAILS` asks for every night; the weekly one counts them all.
 */
export function hasNews(record: NightRecord): boolean {
  const { sync, forecast } = record;
  return (
    record.renewals.length > 0 ||
    sync.added + sync.updated + sync.gone > 0 ||
    forecast?.status === "unavailable"
  );
}

/** The night's one summary, in the ledger like every alert: a rerun does not send it again. */
export const summaryLedger = (night: IsoDate) => ({ subject: "watcher", threshold: `summary:${night}` });

const AWAITING: NightRenewal["outcome"][] = ["unknown", "pending", "in_flight", "in_progress", "started"];

export function nightCounts(record: NightRecord): NightCounts {
  const of = (...outcomes: NightRenewal["outcome"][]) =>
    record.renewals.filter((r) => outcomes.includes(r.outcome)).length;
  return { renewed: of("applied"), failed: of("refused"), awaiting: of(...AWAITING) };
}

/** The night's renewals of these outcomes, in the order the mail lists them (by name, then id). */
function renewalsOf(record: NightRecord, ...outcomes: NightRenewal["outcome"][]): NightRenewal[] {
  return record.renewals
    .filter((r) => outcomes.includes(r.outcome))
    .sort((a, b) => a.name.localeCompare(b.name) || a.licenceId.localeCompare(b.licenceId));
}

/** The licence a renewal staff must settle is for (`?` where its request does not say). */
const heldId = (record: IdempotencyRecord) => (record.request as { id?: string } | undefined)?.id ?? "?";

/**
 * The ids of the licences the mail names with their state now: the renewed and failed renewals it
 * lists, and the licences held by undecided renewals. Only these are read for it, never the fleet.
 */
export function namedLicences(record: NightRecord, undecided: readonly IdempotencyRecord[]): string[] {
  const listed = (rows: NightRenewal[]) => rows.slice(0, LIST_MAX).map((r) => r.licenceId);
  return [
    ...new Set([
      ...listed(renewalsOf(record, "applied")),
      ...listed(renewalsOf(record, "refused")),
      ...undecided.slice(0, LIST_MAX).map(heldId),
      ...(record.sync.addedIds ?? []),
      ...(record.sync.updatedIds ?? []),
      ...(record.sync.goneIds ?? []),
    ]),
  ];
}

/**
 * The summary of a night, from what was gathered. Each section gives its exact count and its first
 * licences, with the call or log query that lists the rest, so the mail fits SNS and an inbox whatever
 * the fleet's size.
 */
export function renderSummary(facts: SummaryFacts, deps: Pick<WatcherDeps, "settings" | "catalogue">): Alert {
  const { night, record, expiringSoon, undecided, licences } = facts;
  const { settings, catalogue } = deps;
  const soonDays = settings.expiringSoonDays;
  const counts = nightCounts(record);
  const tell = (licence: LicenceRecord) => {
    const product = catalogue.byPricelist(licence.pricelist);
    const planned = plannedOf(catalogue, licence, night, settings);
    const fate = fateLine(fateOf(licence, product, night, settings), night, product, catalogue.currency);
    return planned ? `${fate}; ${plannedWords(planned, night)}` : fate;
  };
  const by = (...outcomes: NightRenewal["outcome"][]) => renewalsOf(record, ...outcomes);
  const renewalLog = `every renewal of the night is in the watcher's log, one "renewal" line each (filter: message = "renewal" and night = "${night}")`;
  const section = (heading: string, rows: NightRenewal[], text: (r: NightRenewal) => string): string[] => {
    // An empty section is left out: the subject already counts it.
    if (rows.length === 0) return [];
    const shown = rows.slice(0, LIST_MAX);
    return [
      `${heading} (${rows.length.toLocaleString("en-US")}):`,
      ...shown.map((r) => `  ${r.name} (id ${r.licenceId}): ${text(r)}`),
      ...(rows.length > shown.length
        ? [`  … and ${count(rows.length - shown.length, "more", "more")}: ${renewalLog}`]
        : []),
    ];
  };
  const fateOfId = (id: string) => {
    const licence = licences.get(id);
    return licence ? tell(licence) : "no longer in the register";
  };
  /** "2021-12-31 (the last day ISPmanager 5 Lite allows), 60.00 EUR for 12 months", at catalogue prices. */
  const renewedWords = (r: NightRenewal): string => {
    const licence = licences.get(r.licenceId);
    const product = licence && catalogue.byPricelist(licence.pricelist);
    const capped =
      r.to !== undefined && r.from !== undefined && r.to < addMonths(r.from, r.period) && r.to >= r.from;
    const words = renewalWords(
      {
        to: r.to,
        capped,
        period: r.period,
        costMinor: product ? renewalCost(product, r.period as RenewPeriod, licence?.nodes) : undefined,
        usual: { period: licence?.autoRenew, closeOn: product?.lifecycle.renewalsCloseOn },
      },
      product?.title ?? "its product",
      catalogue.currency,
    );
    return r.to === undefined ? `? ${words}` : words.replace(/^to /, "");
  };
  const closeOn = (id: string) => {
    const licence = licences.get(id);
    return licence && catalogue.byPricelist(licence.pricelist)?.lifecycle.renewalsCloseOn;
  };

  const kinds = new Map<AlertKind, number>();
  const reminders = facts.reminders ?? [];
  // Reminders this mail carries are told in their own section, not counted as mailed apart.
  const carried = new Set(reminders.map(ledgerText));
  const raised = record.alerts.filter((a) => a.kind !== "summary" && !carried.has(alertKeyText(a)));
  for (const a of raised) kinds.set(a.kind as AlertKind, (kinds.get(a.kind as AlertKind) ?? 0) + 1);
  const shownSoon = expiringSoon.slice(0, LIST_MAX);
  const { sync } = record;
  const arrivals = arrivalsToWarn(facts, deps);

  const lines = [
    `Nightly run for ${night}.`,
    "",
    syncLine(sync, licences),
    "",
    ...section(
      "Renewed",
      by("applied"),
      (r) => `${r.from ?? "?"} -> ${renewedWords(r)}, ${reasonText(r.reason, closeOn(r.licenceId))}`,
    ),
    ...section(
      "Failed",
      by("refused"),
      (r) => `${r.detail ?? "refused"}. What becomes of it: ${fateOfId(r.licenceId)}`,
    ),
    ...(counts.awaiting > 0
      ? section("Awaiting the outcome, not failed", by(...AWAITING), awaitingText)
      : []),
    ...(by("skipped").length > 0
      ? section("Not renewed after all", by("skipped"), (r) => r.detail ?? "")
      : []),
    ...heldByUndecided(undecided, licences, tell),
    "",
    forecastLine(record.forecast, night),
    "",
    ...reminderLines(reminders),
    ...(raised.length === 0
      ? []
      : [
          `Mailed on their own tonight (${raised.length}): ${[...kinds]
            .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
            .map(([k, n]) => `${n} ${KIND_NAMES[k] ?? k}`)
            .join(", ")}`,
          "",
        ]),
    ...weekLines(facts),
    ...arrivalLines(arrivals, facts, deps),
    ...(expiringSoon.length === 0
      ? [`Nothing expires in the next ${count(soonDays, "day")}, through ${addDays(night, soonDays)}.`]
      : [
          `Expiring in the next ${count(soonDays, "day")}, through ${addDays(night, soonDays)} (${expiringSoon.length.toLocaleString("en-US")}):`,
        ]),
    ...shownSoon.map((l) => {
      const state = licenceState(l, night);
      return `  ${l.expiresOn}  ${l.name} (id ${l.id}, ${l.ip}${state ? `, ${state}` : ""}): ${tell(l)}`;
    }),
    ...(expiringSoon.length > shownSoon.length
      ? [
          `  … and ${count(expiringSoon.length - shownSoon.length, "more", "more")}: GET /licenses?expiresBefore=${addDays(night, soonDays + 1)} lists them (with any already expired)`,
        ]
      : []),
    "",
  ];
  const problems = counts.failed + counts.awaiting + undecided.length;
  const short =
    record.forecast?.status === "short" && record.forecast.balanceMinor !== undefined
      ? formatMoney({
          minor: record.forecast.dueMinor - record.forecast.balanceMinor,
          currency: record.forecast.currency,
        })
      : undefined;
  // The worst news first, so no cut loses it; a count of nothing is left out.
  // Counts without thousands separators: a subject too long is cut at a comma.
  const news = [
    counts.failed > 0 && `${counts.failed} failed`,
    short && `top up ${short}`,
    undecided.length > 0 &&
      `${undecided.length} ${undecided.length === 1 ? "renewal" : "renewals"} to settle`,
    reminders.length > 0 && `${reminders.length} ${reminders.length === 1 ? "licence" : "licences"} down`,
    counts.awaiting > 0 && `${counts.awaiting} awaiting`,
    arrivals.length > 0 &&
      `${arrivals.length} new not set to renew (first expires ${(arrivals[0] as LicenceRecord).expiresOn})`,
    counts.renewed > 0 && `${counts.renewed} renewed`,
    sync.gone > 0 && `${sync.gone} gone`,
    sync.updated > 0 && `${sync.updated} changed at the vendor`,
    sync.added > 0 && `${sync.added} new`,
    expiringSoon.length > 0 && `${expiringSoon.length} expire in ${count(soonDays, "day")}`,
  ].filter((part): part is string => typeof part === "string");
  const title = `[licence desk] Night ${night}: ${news.length > 0 ? news.join(", ") : "no renewals or changes"}`;
  return {
    kind: "summary",
    severity: worst(
      problems > 0 || reminders.length > 0 || record.forecast?.status === "short" ? "warning" : "info",
      arrivalSeverity(arrivals, night),
    ),
    // 99 characters at most with five-digit counts; beyond, cut at a comma, never mid-word.
    title: title.length <= 99 ? title : `${title.slice(0, title.lastIndexOf(",", 95))}, ...`,
    // An empty section leaves no gap of its own.
    body: lines.join("\n").replace(/\n{3,}/g, "\n\n"),
    licenceId: undefined,
    night,
    ledger: summaryLedger(night),
  };
}

/**
 * Licences new tonight, expiring soon, that nothing renews: this summary is their expiry warning
 * (`arrival-expiry.ts`), soonest first.
 */
function arrivalsToWarn(
  facts: SummaryFacts,
  deps: Pick<WatcherDeps, "settings" | "catalogue">,
): LicenceRecord[] {
  const { night, expiringSoon } = facts;
  return expiringSoon.filter((l) => {
    if (l.syncAddedOn !== night || arrivalThreshold(l, deps.settings) === undefined) return false;
    const fate = fateOf(l, deps.catalogue.byPricelist(l.pricelist), night, deps.settings);
    return fate.kind !== "automatic" && fate.kind !== "succeeded" && fate.kind !== "blocked";
  });
}

function arrivalLines(
  arrivals: readonly LicenceRecord[],
  facts: SummaryFacts,
  { settings, catalogue }: Pick<WatcherDeps, "settings" | "catalogue">,
): string[] {
  if (arrivals.length === 0) return [];
  const { night } = facts;
  const closed = arrivals.filter(
    (l) => fateOf(l, catalogue.byPricelist(l.pricelist), night, settings).kind === "ends",
  ).length;
  const renew = `renew it by hand before it expires${api.renewAny()}, or switch automatic renewal on and the watcher renews it${api.autoRenewOnAny()}.`;
  const move = `to a product still sold before it expires${api.successorOfAny()}.`;
  const { words, calls } = splitCalls(
    closed === 0
      ? `For each to keep, ${renew}`
      : closed === arrivals.length
        ? `None of them can be renewed any more (their products' renewals have closed): move each server you keep ${move}`
        : `For each to keep that can still be renewed, ${renew} ${closed === 1 ? "One of them cannot be renewed any more (its product's renewals have closed): move its server" : `${closed.toLocaleString("en-US")} of them cannot be renewed any more (their products' renewals have closed): move each one's server`} ${move}`,
  );
  const first = arrivals[0] as LicenceRecord;
  const listed =
    facts.expiringSoon.length > LIST_MAX
      ? `The list below names the first ${LIST_MAX} of those expiring soon, with what becomes of each, and the call that lists them all.`
      : "Each is in the list below, with what becomes of it.";
  return [
    `New tonight and not set to renew, expiring by ${(arrivals.at(-1) as LicenceRecord).expiresOn} (${arrivals.length.toLocaleString("en-US")}): a licence the vendor lists that the desk did not order starts with automatic renewal off, so nothing renews these; this mail is their expiry warning. The first expires ${fromNight(night, first.expiresOn as IsoDate)}. ${listed}`,
    `What to do: ${words}`,
    ...howLines(calls),
    "",
  ];
}

/** The expiry warning's own level for the soonest of them (`alerts.expiry`). */
function arrivalSeverity(arrivals: readonly LicenceRecord[], night: IsoDate): Alert["severity"] {
  const first = arrivals[0]?.expiresOn;
  if (first === undefined) return "info";
  const left = daysBetween(night, first);
  return left <= 1 ? "critical" : left <= 3 ? "warning" : "info";
}

const LEVELS: Alert["severity"][] = ["info", "warning", "critical"];
const worst = (a: Alert["severity"], b: Alert["severity"]) =>
  LEVELS.indexOf(a) >= LEVELS.indexOf(b) ? a : b;

/** Why the watcher renewed a licence, in words. */
function reasonText(reason: string, renewalsCloseOn: string | undefined): string {
  if (reason === "early")
    return `early, before renewals close${renewalsCloseOn ? ` on ${renewalsCloseOn}` : ""}`;
  if (reason === "lapsed") return "after its expiry";
  return "due";
}

/**
 * What the sync found, each licence named (the first few of each kind; the register holds every one):
 * "1 new (first seen at the vendor, not ordered through the desk): web-9 (id 2512190)".
 */
function syncLine(sync: NightSync, licences: ReadonlyMap<string, LicenceRecord>): string {
  const named = (ids: string[] | undefined, total: number) => {
    const shown = (ids ?? []).map((id) => {
      const licence = licences.get(id);
      return licence ? `${licence.name} (id ${id})` : `licence ${id}`;
    });
    if (shown.length === 0) return "";
    const rest = total - shown.length;
    return `: ${shown.join(", ")}${rest > 0 ? ` and ${count(rest, "more")} (GET /licenses)` : ""}`;
  };
  const parts = [
    sync.added > 0 &&
      `${sync.added.toLocaleString("en-US")} new (first seen at the vendor, not ordered through the desk)${named(sync.addedIds, sync.added)}`,
    sync.updated > 0 &&
      `${sync.updated.toLocaleString("en-US")} changed at the vendor${named(sync.updatedIds, sync.updated)}`,
    sync.gone > 0 &&
      `${sync.gone.toLocaleString("en-US")} gone from its list${named(sync.goneIds, sync.gone)}`,
  ].filter((part): part is string => typeof part === "string");
  const listed = `Sync: ${count(sync.listed, "licence")} listed by the vendor`;
  const line =
    parts.length === 0 ? `${listed}; nothing new, changed or gone.` : `${listed}; ${parts.join("; ")}.`;
  // Licences written from their list rows whose form (key, nodes) is not read yet: carried on by the
  // next runs, those waiting longest first.
  const left = sync.formsLeft ?? 0;
  return left === 0
    ? line
    : `${line} ${count(left, "licence")} still ${left === 1 ? "has its" : "have their"} form (key, nodes) to read: the next runs read them, those waiting longest first (GET /licenses/{id} shows "formPending": true until then); nothing is needed from you.`;
}

/** Licences still down, as the weekly reminder tells each: what it is, when it ends, what to do. */
function reminderLines(reminders: readonly Alert[]): string[] {
  if (reminders.length === 0) return [];
  return [
    `Still down, reminded each week (${reminders.length.toLocaleString("en-US")}):`,
    ...reminders.flatMap((a) => {
      const { words, calls } = splitCalls(a.action ?? "");
      return [
        `  ${a.title.replace("[licence desk] ", "")}: ${a.note ?? ""}`,
        ...(a.action ? [`    What to do: ${words}`, ...howLines(calls, "    ")] : []),
      ];
    }),
    "",
  ];
}

/** The weekly summary's look back: the week's counts, and how many nights had nothing to tell. */
function weekLines(facts: SummaryFacts): string[] {
  const { week, night, record } = facts;
  if (!week) return [];
  const all = [...week, record];
  const renewed = all.reduce((n, r) => n + r.renewals.filter((x) => x.outcome === "applied").length, 0);
  const failed = all.reduce((n, r) => n + r.renewals.filter((x) => x.outcome === "refused").length, 0);
  const raised = all.reduce((n, r) => n + r.alerts.filter((a) => a.kind !== "summary").length, 0);
  // A night that ran listed the vendor's licences (or had news): nights before the first run are not counted.
  const ran = week.filter((r) => r.sync.listed > 0 || hasNews(r));
  const told = ran.filter(hasNews).length;
  return [
    `This week (${addDays(night, -6)} to ${night}): ${renewed} renewed, ${failed} failed, ${count(raised, "alert")} raised; of the ${count(ran.length, "night")} run before tonight, ${told === 0 ? "none" : told} had renewals or sync changes to report.`,
    "",
  ];
}

/** The night's balance forecast in one paragraph: covered, short, or why none was made. */
function forecastLine(forecast: NightForecast | undefined, night: IsoDate): string {
  if (!forecast) return "Balance: no forecast was made tonight.";
  const money = (minor: number | undefined) =>
    formatMoney({ minor: minor ?? 0, currency: forecast.currency });
  const orders = forecast.successorOrders ?? 0;
  const what =
    orders === 0
      ? "the renewals"
      : orders === forecast.dueCount
        ? "the successor orders"
        : "the renewals and successor orders";
  const horizon =
    forecast.until === undefined
      ? `of the next ${count(forecast.days, "day")}`
      : `from ${forecast.from === undefined ? "tonight" : "tomorrow"} through ${forecast.until}`;
  const counted =
    orders === 0
      ? count(forecast.dueCount, "renewal")
      : orders === forecast.dueCount
        ? count(orders, "successor order")
        : `${count(forecast.dueCount - orders, "renewal")} and ${count(orders, "successor order")}`;
  const due = `${counted} from ${forecast.firstDue ?? night}, ${money(forecast.dueMinor)} in all`;
  const note = forecast.reason ? ` Note: ${forecast.reason}.` : "";
  // Read after tonight's charges: the balance that will pay what is listed.
  const held =
    forecast.from === undefined
      ? money(forecast.balanceMinor)
      : `${money(forecast.balanceMinor)} after tonight's charges`;
  switch (forecast.status) {
    case "nothing_due":
      return `Balance: nothing is due ${horizon.replace(/^of /, "in ")}.`;
    case "covered":
      return `Balance: ${held} covers ${what} ${horizon} (${due}).${note}`;
    case "short":
      return `Balance: ${held} does not cover ${what} ${horizon} (${due}): short by ${money(forecast.dueMinor - (forecast.balanceMinor ?? 0))}. Top up the vendor account ${forecast.firstDue && forecast.firstDue > night ? `before ${forecast.firstDue}` : `now: they are due from ${forecast.firstDue ?? night}`}.${note}`;
    case "unavailable":
      return `Balance: no forecast could be made: ${forecast.reason}. ${what.charAt(0).toUpperCase()}${what.slice(1)} ${horizon}: ${due}; check the balance in the vendor's panel.`;
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

/**
 * Every licence held by an undecided renewal, each night until staff settle it: no other renewal of it
 * is sent meanwhile, so it would otherwise lapse in silence.
 */
function heldByUndecided(
  held: readonly IdempotencyRecord[],
  licences: ReadonlyMap<string, LicenceRecord>,
  tell: (licence: LicenceRecord) => string,
): string[] {
  if (held.length === 0) return [];
  const lines = held.slice(0, LIST_MAX).map((record) => {
    const id = heldId(record);
    const licence = licences.get(id);
    const { calls } = splitCalls(api.settle(record.scope, record.key));
    return [
      `  ${licence?.name ?? "?"} (id ${id}): ${record.undecided?.reason}. Its state now: ${licence ? tell(licence) : "not in the register"}`,
      "    No renewal or suspend of it is sent until it is settled. Check the vendor's panel, then settle it as applied or not applied.",
      ...howLines(calls, "    "),
    ];
  });
  return [
    `Held by a renewal staff must settle (${held.length.toLocaleString("en-US")}):`,
    ...lines.flat(),
    ...(held.length > LIST_MAX
      ? [`  … and ${count(held.length - LIST_MAX, "more", "more")}: GET /outcomes?state=undecided lists them`]
      : []),
  ];
}
