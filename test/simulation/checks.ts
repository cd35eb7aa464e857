import { composedLater } from "../../shared/domain/alerts/send-pending.ts";
import { generationOf } from "../../shared/domain/catalogue/catalogue.ts";
import type { IsoDate } from "../../shared/domain/dates.ts";
import { canonicalIp } from "../../shared/domain/ip.ts";
import { summaryLedger } from "../../shared/domain/night/phases/summary.ts";
import { allLicences } from "../../shared/domain/night/sync.ts";
import { alertKeyText } from "../../shared/domain/ports/alert-ledger.ts";
import type { IdempotencyRecord } from "../../shared/domain/ports/intent-store.ts";
import type { LicenceRecord } from "../../shared/domain/ports/licence-store.ts";
import { fateOf } from "../../shared/domain/renewal/fate.ts";
import { isLive } from "../../shared/domain/renewal/renewal-rules.ts";
import {
  type Answer,
  type Intent,
  type IntentKind,
  type LapseNews,
  type Sim,
  saysNotApplied,
  saysNothingCharged,
  Violation,
} from "./model.ts";
import {
  API_SCOPE,
  type AttributedCharge,
  CLIENT_SCOPES,
  intentId,
  TIMING,
  WATCHER_SCOPE,
  type World,
  watchSuccessorOf,
} from "./world.ts";

/**
 * The invariants, checked against the vendor's charge log (each charge tied to the call, and so the
 * intent, that caused it) and the register, never against what the product says of itself.
 */

const splitIntent = (id: string): [string, string] => {
  const at = id.indexOf("|");
  return [id.slice(0, at), id.slice(at + 1)];
};

/** Every intent the simulation knows of: the client's keys, and the watcher's keys that sent or are in a night's record. */
async function knownIntents(sim: Sim, world: World): Promise<Set<string>> {
  const ids = new Set(sim.intents.map((i) => intentId(i.scope, i.key)));
  // The panel's charges are the reseller's own: no intent of the desk's.
  for (const charge of world.charges)
    if (charge.intent && !charge.label?.startsWith("panel:")) ids.add(charge.intent);
  for (const night of sim.nights.keys()) {
    for (const renewal of (await world.rawRegister.nights.read(night)).renewals) {
      ids.add(intentId(WATCHER_SCOPE, `watch:${renewal.licenceId}:${night}`));
    }
  }
  // The nights' orders of planned successors, charged or not.
  for (const key of world.watcherSuccessorKeys) ids.add(intentId(WATCHER_SCOPE, key));
  return ids;
}

function chargesByIntent(world: World): Map<string, AttributedCharge[]> {
  const by = new Map<string, AttributedCharge[]>();
  for (const charge of world.charges) {
    const id = charge.intent ?? "<none>";
    by.set(id, [...(by.get(id) ?? []), charge]);
  }
  return by;
}

const describe = (c: AttributedCharge) =>
  `${c.func} of licence ${c.elid} (${c.amountMinor}) by ${c.label ?? "no call"}${c.call?.fault ? `, fault ${c.call.fault}` : ""}`;

/** What the client was told for an intent, for a violation's message. */
function toldOf(sim: Sim, id: string): string {
  const [scope, key] = splitIntent(id);
  const intent = CLIENT_SCOPES.includes(scope) ? sim.byKey.get(key) : undefined;
  if (!intent || intent.answers.length === 0) return "";
  return ` (its client was told: ${intent.answers.map((a) => `${a.status}${a.code ? ` ${a.code}` : ""}`).join(", ")})`;
}

/**
 * After every command. (1) No intent charged twice, and every charge is either the reseller's own in
 * the vendor's panel or maps to exactly one intent made by the API or the watcher, through that
 * intent's own calls (never the reconciler, never an untracked call); a chain of keys the client used
 * for one purchase is charged at most once. A request answered "nothing was charged" (any refusal,
 * "not applied", in flight, not wanted, deadline near…) was not charged by its own call, and nothing
 * else ever sends its intent. An intent the vendor charged is never forgotten by the register, never
 * completed as not applied, and its client never told "not applied"; an intent answered or completed
 * as applied was charged by its own call (for an order, the licence that call created, never a panel
 * order or a licence that was there before). The watcher never pays for a licence suspended on purpose
 * at the vendor, nor for one a panel renewal moved while the watcher held it (checkWatcherAgainstPanel).
 */
export async function checkMoney(sim: Sim, world: World): Promise<void> {
  const by = chargesByIntent(world);
  for (const [id, charges] of by) {
    const first = charges[0] as AttributedCharge;
    if (id === "<none>" || first.label === undefined || first.label === "untracked") {
      throw new Violation(`a charge no intent made: ${charges.map(describe).join("; ")}`);
    }
    if (id.startsWith("panel|")) continue;
    for (const charge of charges) {
      const own =
        charge.label?.startsWith("api:") ||
        (charge.label?.startsWith("watcher:") && id.startsWith(`${WATCHER_SCOPE}|`));
      if (!own) {
        throw new Violation(
          `a money call made by ${charge.label}${charge.call?.params.sim_intent ? ` as it resumed intent ${charge.call.params.sim_intent}` : ""}, which must never send one: ${describe(charge)}${toldOf(sim, id)}`,
        );
      }
    }
    const [scope] = splitIntent(id);
    if (scope !== WATCHER_SCOPE && !CLIENT_SCOPES.includes(scope)) {
      throw new Violation(`a money call for ${id}, no intent of a client or the watcher: ${describe(first)}`);
    }
    if (charges.length > 1)
      throw new Violation(
        `intent ${id} charged ${charges.length} times: ${charges.map(describe).join("; ")}`,
      );
    // The request whose call it was must not have been told that it charged nothing.
    const [, key] = splitIntent(id);
    const intent = CLIENT_SCOPES.includes(scope) ? sim.byKey.get(key) : undefined;
    if (intent) checkChargeFits(world, intent, first);
    const answer = intent?.answers.find((a) => a.attempt !== undefined && a.attempt === first.attempt);
    if (answer && saysNothingCharged(answer)) {
      throw new Violation(
        `the client was told ${answer.status} ${answer.code} for ${id} ("${errorMessage(answer)}"), but that very request was charged: ${describe(first)}`,
      );
    }
  }
  for (const chain of sim.chains) {
    const charged = chain.keys.flatMap((key) => {
      const intent = sim.byKey.get(key);
      return by.get(intentId(intent?.scope ?? API_SCOPE, key)) ?? [];
    });
    if (charged.length > 1) {
      throw new Violation(
        `the client's ${chain.kind} (keys ${chain.keys.join(", ")}), following the answers literally, was charged ${charged.length} times: ${charged.map(describe).join("; ")}`,
      );
    }
  }
  checkWatcherAgainstPanel(world);

  for (const id of await knownIntents(sim, world)) {
    const [scope, key] = splitIntent(id);
    const record = await world.rawRegister.idempotency.find(scope, key);
    const charges = by.get(id) ?? [];
    const intent = CLIENT_SCOPES.includes(scope) ? sim.byKey.get(key) : undefined;
    if (charges.length > 0) {
      const charge = charges[0] as AttributedCharge;
      if (!record)
        throw new Violation(
          `intent ${id} was charged (${describe(charge)}) but the register has no record of it: its key is free to send again`,
        );
      if (record.status === "completed" && record.outcome === "not_applied") {
        throw new Violation(
          `intent ${id} completed as not applied (${JSON.stringify(record.response)}) but the vendor charged it: ${describe(charge)}${lateness(charge, record)}`,
        );
      }
      const told = intent?.answers.find(saysNotApplied);
      if (told)
        throw new Violation(
          `the client was told ${told.code} for ${id}, but the vendor charged it: ${describe(charge)}${lateness(charge, record)}`,
        );
    }
    if (record?.status === "completed" && record.outcome === "applied") {
      const charge = charges[0];
      const named = record.response?.outcome === "applied" ? record.response.licence.id : undefined;
      if (!charge && panelTwin(world, record, named)) {
        sim.stats.exempted += 1;
        continue;
      }
      if (!charge)
        throw new Violation(
          `intent ${id} completed as applied (${JSON.stringify(record.response)}) but the vendor never charged it`,
        );
      if (charge.func === "soft.order.param" && named !== charge.elid) {
        throw new Violation(
          `order ${id} completed as licence ${named}, but the licence it paid for is ${charge.elid}`,
        );
      }
    }
    const success = intent?.answers.find((a) => a.status >= 200 && a.status < 300);
    if (success) {
      const charge = charges[0];
      const twin = record && panelTwin(world, record, (success.body as { id?: string } | undefined)?.id);
      if (!charge && twin) continue;
      if (!charge)
        throw new Violation(
          `the client was answered ${success.status} for ${id}, but the vendor never charged it`,
        );
      const named = (success.body as { id?: string }).id;
      if ((intent?.kind === "order" || intent?.kind === "successor") && named !== charge.elid) {
        throw new Violation(
          `the client was answered 201 licence ${named} for ${id}, but the licence it paid for is ${charge.elid}`,
        );
      }
    }
  }
}

/** The vendor function each kind of the client's money call pays through. */
const FUNC_OF: Record<IntentKind, AttributedCharge["func"]> = {
  order: "soft.order.param",
  successor: "soft.order.param",
  renew: "service.prolong",
  changeProduct: "service.changepricelist",
};

/**
 * A charge is what its intent asked for: its kind's vendor function; a renewal or a change of product
 * on the intent's own licence; a successor an ISPmanager 6 licence on its predecessor's IP.
 */
function checkChargeFits(world: World, intent: Intent, charge: AttributedCharge): void {
  const id = intentId(intent.scope, intent.key);
  if (charge.func !== FUNC_OF[intent.kind]) {
    throw new Violation(
      `${intent.kind} ${id} was charged by ${describe(charge)}, not ${FUNC_OF[intent.kind]}`,
    );
  }
  if ((intent.kind === "renew" || intent.kind === "changeProduct") && charge.elid !== intent.licenceId) {
    throw new Violation(
      `${intent.kind} ${id} of licence ${intent.licenceId} was charged on another licence: ${describe(charge)}`,
    );
  }
  if (intent.kind === "successor") {
    const book = new Map(world.vendorBook().map((l) => [l.id, l]));
    const placed = book.get(charge.elid);
    const old = book.get(intent.licenceId ?? "");
    const product = placed && world.catalogue.byPricelist(placed.pricelist);
    const generation = product && generationOf(product);
    const ipOf = (ip: string) => canonicalIp(ip) ?? ip;
    if (!placed || !old || generation !== "ispmanager6" || ipOf(placed.ip) !== ipOf(old.ip)) {
      throw new Violation(
        `successor ${id} of licence ${intent.licenceId} (${old?.pricelist} on ${old?.ip}) placed licence ${charge.elid} (${placed?.pricelist} on ${placed?.ip}): not an ISPmanager 6 licence on its IP`,
      );
    }
  }
}

const errorMessage = (a: Answer) =>
  (a.body as { error?: { message?: string } } | undefined)?.error?.message ?? "";

/**
 * The watcher never renews a licence the vendor shows suspended on purpose (in the panel or through the
 * desk: `user`), whatever its expiry; and never one that a panel action touched while the watcher held
 * its renewal (after its plan, before sending): renewed elsewhere (the expiry moved past its plan),
 * suspended, or deleted.
 */
export function checkWatcherAgainstPanel(world: World): void {
  for (const charge of world.charges) {
    if (!charge.label?.startsWith("watcher:") || charge.func !== "service.prolong") continue;
    const was = charge.before;
    if (
      was?.status === "3" &&
      was.suspendedBy === "user" &&
      seenWhileRunning(world, charge.elid, was.expiredate)
    ) {
      throw new Violation(
        `the watcher renewed licence ${charge.elid} (${charge.label}), which the vendor had suspended on purpose (in its panel or through the desk; expiry ${was.expiredate}): ${describe(charge)}`,
      );
    }
    if (was?.status === "4") {
      throw new Violation(
        `the watcher renewed licence ${charge.elid}, deleted at the vendor: ${describe(charge)}`,
      );
    }
    const night = charge.label.slice("watcher:".length);
    for (const entry of world.panelLog) {
      const during = entry.duringRenewal;
      if (!entry.effective || !during || during.night !== night || during.licenceId !== charge.elid) continue;
      if (entry.wallMs > charge.wallMs) continue;
      // Resumed since (through the desk or the panel), and running when the renewal reached the vendor:
      // a later run of the night planned it afresh, and the suspension it held against is over.
      if (entry.action.what === "suspend" && was?.status === "2") continue;
      throw new Violation(
        `the watcher renewed licence ${charge.elid} on night ${night} after the reseller's ${entry.action.what} of it in the vendor's panel (${entry.said}), made while the watcher held that renewal: ${describe(charge)}`,
      );
    }
  }
}

/**
 * Whether the desk could tell a licence's suspension from a lapse: it suspended the licence itself, or a
 * night ran after the reseller suspended it in the panel and on or before its expiry, and saw it suspended
 * while it still ran. Otherwise (the panel's suspension came after the last night before the expiry) the
 * vendor's records show what an unpaid lapse shows, and the desk renews it as one (docs/watcher.md).
 * Night starts and panel times are both on the world's clock.
 */
function seenWhileRunning(world: World, licenceId: string, expiry: string): boolean {
  const suspended = world.panelLog.findLast(
    (e) => e.effective && e.action.what === "suspend" && e.licenceId === licenceId,
  );
  if (!suspended) return true;
  return world.nightRuns.some((run) => run.startedMs > suspended.wallMs && run.night <= expiry);
}

/**
 * When a charge came after the settle window, the simulation's own timing assumption broke: say so.
 * Both times on the world's clock: a charge that lands after the clock was moved past its window counts
 * as late, as it is for the desk.
 */
function lateness(charge: AttributedCharge, record: IdempotencyRecord): string {
  if (record.sentAt === undefined) return "";
  const late = charge.wallMs - record.sentAt;
  return late > TIMING.settleMs
    ? ` (NOTE: charged ${late} ms after it was sent, later than the settle window of ${TIMING.settleMs} ms: the test's timing assumption did not hold)`
    : ` (charged ${late} ms after it was sent)`;
}

/**
 * What, beside the intent's own call, may have left its evidence ambiguous: a panel action on its
 * licence (a renewal) or on its IP (an order), or another key's order of the same IP, from a little
 * before it was sent on (a lock's length: longer than its operation took to send, and the clock is
 * never moved while one runs, so this is on the world's clock as `sentAt` is). Undefined when nothing did.
 */
export function interference(sim: Sim, world: World, record: IdempotencyRecord): string | undefined {
  const since = (record.sentAt ?? 0) - TIMING.lockMs;
  const request = record.request as { id?: string; body?: { ip?: string } } | undefined;
  if (record.operation === "renew" || record.operation === "change-product") {
    const id = request?.id;
    const panel = world.panelLog.find(
      (e) => e.effective && e.licenceId === id && e.wallMs >= since && e.action.what !== "order",
    );
    return panel && `the reseller's ${panel.action.what} of licence ${id} in the vendor's panel`;
  }
  const book = new Map(world.vendorBook().map((l) => [l.id, l]));
  // A successor orders its predecessor's IP.
  const asked = record.operation === "successor" ? book.get(request?.id ?? "")?.ip : request?.body?.ip;
  const ip = canonicalIp(asked ?? "") ?? asked;
  const onIp = (id: string | undefined) => {
    const licence = id ? book.get(id) : undefined;
    return licence !== undefined && (canonicalIp(licence.ip) ?? licence.ip) === ip;
  };
  const panel = world.panelLog.find((e) => e.effective && e.wallMs >= since && onIp(e.licenceId));
  if (panel)
    return `the reseller's ${panel.action.what} of licence ${panel.licenceId} on ${ip} in the vendor's panel`;
  const ipOfIntent = (i: Intent) =>
    i.kind === "order"
      ? canonicalIp((i.body as { ip: string }).ip)
      : i.kind === "successor"
        ? canonicalIp(book.get(i.licenceId ?? "")?.ip ?? "")
        : undefined;
  const other = sim.intents.find(
    (i) =>
      (i.kind === "order" || i.kind === "successor") && i.key !== record.key && (ipOfIntent(i) ?? "") === ip,
  );
  return other && `${other.kind} ${other.scope}|${other.key} of the same IP`;
}

/**
 * The one case the vendor's records cannot tell apart, by design (docs/api.md): an unanswered call that
 * never reached the vendor, and the reseller doing the very same thing in the vendor's panel meanwhile
 * (a renewal to the exact expiry the call expected; an order of the same product, IP and name). The
 * evidence then settles the call as applied, with the panel's licence: one charge in all (the panel's),
 * the licence as the client asked. Accepted only when such a panel charge on that very licence exists,
 * made after the call was sent.
 */
function panelTwin(world: World, record: IdempotencyRecord, named: string | undefined): boolean {
  const request = record.request as { id?: string } | undefined;
  const byLicence = record.operation === "renew" || record.operation === "change-product";
  const licenceId = byLicence ? request?.id : named;
  const func =
    record.operation === "renew"
      ? "service.prolong"
      : record.operation === "change-product"
        ? "service.changepricelist"
        : "soft.order.param";
  const since = (record.sentAt ?? 0) - TIMING.lockMs;
  return world.charges.some(
    (c) => c.label?.startsWith("panel:") && c.func === func && c.elid === licenceId && c.wallMs >= since,
  );
}

/** Staff were told (or the ledger holds, to tell them) that this intent's outcome is undecided. */
async function undecidedAlerted(world: World, record: IdempotencyRecord): Promise<boolean> {
  const prefix = `intent:${record.scope}:${record.key}|outcome_undecided|`;
  if (world.mails.some((m) => m.keys.some((k) => k.startsWith(prefix)))) return true;
  return (await world.rawRegister.alerts.pending()).some((p) => alertKeyText(p).startsWith(prefix));
}

/**
 * An intent still open after the settle window and a reconciler pass is allowed only when the evidence
 * is ambiguous for a cause outside the desk (`interference`) and staff were alerted to settle it by hand
 * (`outcome_undecided`); otherwise it says why not.
 */
async function openWithoutCause(
  sim: Sim,
  world: World,
  record: IdempotencyRecord,
): Promise<string | undefined> {
  const cause = interference(sim, world, record);
  if (!cause) return "nothing outside the desk made its evidence ambiguous";
  if (!(await undecidedAlerted(world, record)))
    return `its evidence may be ambiguous (${cause}), but staff were never alerted (outcome_undecided) to settle it by hand`;
  sim.stats.undecided += 1;
  return undefined;
}

/**
 * The intent is locked, and waits for that lock to run out: a dead process's claim or reconciler
 * lease, or the 30 s lease a healthy pass keeps when it could not read its evidence (the next pass
 * decides). A healthy pass's lease on an intent whose evidence something outside the desk made
 * ambiguous exempts nothing: staff must have been alerted (openWithoutCause).
 */
function leaseWaits(sim: Sim, world: World, record: IdempotencyRecord, now: number): boolean {
  if (record.lockedUntil <= now) return false;
  const lease = world.journal.findLast(
    (j) =>
      j.store === "idempotency" &&
      j.method === "lease" &&
      j.result === true &&
      j.args[0] === record.scope &&
      j.args[1] === record.key,
  );
  return lease === undefined || lease.death?.dead === true || !interference(sim, world, record);
}

/**
 * (2) After the settle window and one reconciler pass: every charge is known to the register (the
 * intent completed as applied; an order's licence in the register) and nothing sent is left unknown,
 * except what a dead process still leases (its lease runs out later) and what is undecided for a cause
 * outside the desk, with staff alerted (openWithoutCause).
 */
export async function checkSettled(sim: Sim, world: World): Promise<void> {
  sim.stats.strongChecks += 1;
  const now = world.nowMs();
  for (const charge of world.charges) {
    if (!charge.intent || charge.intent.startsWith("panel|")) continue;
    const [scope, key] = splitIntent(charge.intent);
    const record = await world.rawRegister.idempotency.find(scope, key);
    if (record && record.status !== "completed" && leaseWaits(sim, world, record, now)) {
      sim.stats.exempted += 1;
      continue;
    }
    const why = record && record.status !== "completed" && (await openWithoutCause(sim, world, record));
    if (record && record.status !== "completed" && why === undefined) continue;
    if (record?.status !== "completed" || record.outcome !== "applied") {
      throw new Violation(
        `after the settle window and a reconciler pass, intent ${charge.intent} is ${record ? `${record.status}${record.outcome ? `/${record.outcome}` : ""}` : "unknown to the register"} though the vendor charged it: ${describe(charge)}${why ? `; ${why}` : ""}`,
      );
    }
    if (charge.func === "soft.order.param" && !(await world.rawRegister.licences.get(charge.elid))) {
      throw new Violation(
        `after the settle window and a reconciler pass, licence ${charge.elid} (paid by ${charge.intent}) is not in the register`,
      );
    }
  }
  for (const record of await world.rawRegister.idempotency.unresolved(500)) {
    if (leaseWaits(sim, world, record, now)) {
      sim.stats.exempted += 1;
      continue;
    }
    const why = await openWithoutCause(sim, world, record);
    if (why === undefined) continue;
    throw new Violation(
      `after the settle window and a reconciler pass, intent ${record.scope}|${record.key} (${record.operation}) is still ${record.status}, sent ${now - (record.sentAt ?? now)} ms ago: ${why}`,
    );
  }
}

/**
 * Ledger keys a dead process held a send lease on at `sinceMs` (the world's clock, as the leases' ends
 * are): their mails wait for the lease to run out.
 */
function deadLeases(world: World, sinceMs: number): Set<string> {
  const held = new Set<string>();
  for (const entry of world.journal) {
    if (entry.store !== "alerts" || entry.method !== "lease" || entry.result !== true) continue;
    if (!entry.death?.dead || (entry.args[2] as number) < sinceMs) continue;
    held.add(alertKeyText(entry.args[0] as Parameters<typeof alertKeyText>[0]));
  }
  return held;
}

/** (3a) No alert sent twice (a digest counts for each alert it carries), save the one documented point. */
export function checkNoAlertTwice(world: World): void {
  const first = new Map<string, (typeof world.mails)[number]>();
  for (const mail of world.mails) {
    for (const key of mail.keys) {
      const earlier = first.get(key);
      if (!earlier) {
        first.set(key, mail);
        continue;
      }
      // Killed between the send and marking it sent: the next run sends it again (docs/watcher.md: at least once there).
      const death = earlier.death;
      const allowed =
        (death?.point === "alerts.markSent" && death.mode === "before") ||
        (death?.point === "notifier.send" && death.mode === "during");
      if (!allowed) {
        throw new Violation(
          `alert ${key} sent twice: by ${earlier.label}${earlier.death?.dead ? ` (killed at ${earlier.death.point})` : ""} and by ${mail.label}`,
        );
      }
    }
  }
}

/**
 * (3b) No alert lost, after a healthy watcher night (which sends every pending alert): nothing left
 * pending (save summaries still deferred and alerts a dead process leases), everything ever recorded
 * sent, and every alert the model expects (orders the reconciler settled as placed, licences the vendor
 * suspended before their expiry, the night's summary) sent.
 */
export async function checkAlertsDelivered(
  sim: Sim,
  world: World,
  nowNight: string,
  /**
   * When the night's runs started, on the world's clock (as the leases are): a summary a renewal lease
   * still held then may wait for the next run.
   */
  startedMs: number,
): Promise<void> {
  const sent = new Set(world.mails.flatMap((m) => m.keys));
  const held = deadLeases(world, startedMs);
  const pending = await world.rawRegister.alerts.pending();
  for (const entry of pending) {
    const key = alertKeyText(entry);
    if (held.has(key)) continue;
    if (entry.kind === "summary" && (await summaryDeferred(world, entry.night, startedMs))) continue;
    throw new Violation(`after a healthy night (${nowNight}), alert ${key} is still pending`);
  }
  const recorded = new Set<string>();
  for (const entry of world.journal) {
    if (entry.store === "alerts" && entry.method === "record") {
      for (const alert of entry.result as Parameters<typeof alertKeyText>[0][])
        recorded.add(alertKeyText(alert));
    }
  }
  for (const key of recorded) {
    if (!sent.has(key) && !held.has(key) && !pending.some((p) => alertKeyText(p) === key)) {
      throw new Violation(`alert ${key} was recorded, is no longer pending, and was never sent`);
    }
  }
  for (const expected of sim.expectedAlerts) {
    if (sent.has(expected.key) || held.has(expected.key)) continue;
    if (expected.key.includes("|summary|") && pending.some((p) => alertKeyText(p) === expected.key)) continue;
    throw new Violation(`alert ${expected.key} (${expected.why}) was never sent`);
  }
}

/**
 * (3c) A licence the vendor suspended after its expiry is told by the lapse's own mail, never lost: the
 * `expired` alert for that expiry ("The vendor has suspended it for non-payment"), or `renewal_blocked`
 * for that expiry, lapsed, sent by the first healthy night from which the watcher will not renew it
 * (the licence's fate as the desk's mails tell it is not "automatic"). While the watcher still renews it
 * the suspension is no news of its own (the renewal resumes it; a renewal that fails or stays unknown
 * has its own mail, checked as recorded and sent above); nor while it is succeeded (its retirement, or
 * `retire_held`, tells it). Settled once told, or once the licence no
 * longer lapses at that expiry (renewed, deleted). `deferred`: licences a reseller changed during this
 * night, which the night may have told either way: they are judged by the next healthy night.
 */
export async function checkLapsesTold(
  sim: Sim,
  world: World,
  night: IsoDate,
  startedMs: number,
  deferred: Set<string>,
): Promise<void> {
  const sent = world.mails.flatMap((m) => m.keys);
  const held = deadLeases(world, startedMs);
  const { catalogue, settings } = world.watcherDeps();
  const open: LapseNews[] = [];
  for (const lapse of sim.lapses) {
    const subject = `licence:${lapse.id}|`;
    const tells = (key: string) =>
      key === `${subject}expired|${lapse.expiresOn}:expired` ||
      (key.startsWith(`${subject}renewal_blocked|${lapse.expiresOn}:`) && key.endsWith(":lapsed")) ||
      // A succeeded licence's lapse: its retirement, or why it is kept (its successor not running).
      key === `${subject}licence_retired|${lapse.expiresOn}` ||
      key === `${subject}retire_held|${lapse.expiresOn}`;
    if (sent.some(tells) || [...held].some(tells)) continue;
    const record = await world.rawRegister.licences.get(lapse.id);
    if (record?.status !== "suspended" || record.expiresOn !== lapse.expiresOn) continue;
    if (record.goneSince !== undefined) continue;
    const fate = fateOf(record, catalogue.byPricelist(record.pricelist), night, settings);
    // Succeeded: carried on by its successor, never warned of as one needing a renewal (docs/watcher.md);
    // its night retires it (then it lapses no more) or keeps it and says why (retire_held), maybe later
    // (a night that could not ask the vendor tries again): checkRetirementsDone holds the retirement.
    if (fate.kind === "automatic" || fate.kind === "succeeded" || deferred.has(lapse.id)) {
      open.push(lapse);
      continue;
    }
    throw new Violation(
      `licence ${lapse.id}, suspended by the vendor after its expiry ${lapse.expiresOn} (written by night ${lapse.night}), is not renewed by the watcher (${fate.kind}), and after night ${night} no expired or renewal_blocked mail for that expiry was ever sent`,
    );
  }
  sim.lapses = open;
}

/** A run (dead or alive) held one of the night's renewals when the last run started: the summary waits. */
async function summaryDeferred(world: World, night: string, startedMs: number): Promise<boolean> {
  const record = await world.rawRegister.nights.read(night);
  return record.renewals.some((r) => r.outcome === "started" && (r.leaseUntil ?? 0) >= startedMs);
}

export function summaryKey(night: string): string {
  return alertKeyText(composedLater({ kind: "summary", night, ledger: summaryLedger(night) }));
}

/**
 * (4) After a healthy night the register holds the vendor's book: every licence, with its expiry and
 * status, save licences with a money outcome still open (the vendor may act on it after the sync).
 * And the night's record tells the truth: a renewal it counts as applied was charged once, one it
 * counts as refused was not charged, and the charges lie between the applied and applied + awaiting.
 */
export async function checkConverged(
  sim: Sim,
  world: World,
  night: string,
  startedMs: number,
): Promise<void> {
  sim.stats.convergenceChecks += 1;
  const open = new Set<string>();
  // What the reseller changed in the panel while the night ran: the next night's sync brings it in.
  for (const entry of world.panelLog)
    if (entry.wallMs >= startedMs && entry.licenceId) open.add(entry.licenceId);
  for (const record of await world.rawRegister.idempotency.unresolved(500)) {
    const request = record.request as { id?: string } | undefined;
    open.add(request?.id ?? record.context.licenceId ?? "");
    // A licence its order placed while the night ran (a night's planned successor, unanswered), after
    // the sync read the vendor's list: the reconciler, or the next night's sync, brings it in.
    for (const charge of world.charges) {
      if (charge.intent === intentId(record.scope, record.key) && charge.wallMs >= startedMs)
        open.add(charge.elid);
    }
  }
  const register = await allLicences(world.rawRegister.licences);
  const book = world.vendorBook();
  for (const licence of book) {
    if (open.has(licence.id)) continue;
    const record = register.get(licence.id) as LicenceRecord | undefined;
    if (licence.status === "4") {
      if (record && record.status !== "deleted" && record.goneSince === undefined) {
        throw new Violation(
          `after night ${night}: licence ${licence.id} is deleted at the vendor, ${record.status} in the register`,
        );
      }
      continue;
    }
    if (!record)
      throw new Violation(
        `after night ${night}: licence ${licence.id} (${licence.licname}) is at the vendor but not in the register`,
      );
    // Written by a renewal after tonight's sync whose form could not be read (what it leads to, marked
    // unconfirmed): the next night's sync reads its form, and that night's check holds it to the book.
    if (record.formPending) {
      sim.stats.exempted += 1;
      continue;
    }
    const differences = [
      record.expiresOn !== licence.expiredate &&
        `expiry ${record.expiresOn} vs the vendor's ${licence.expiredate}`,
      record.statusCode !== licence.status &&
        `status ${record.statusCode} (${record.status}) vs the vendor's ${licence.status}`,
      record.ip !== licence.ip && `ip ${record.ip} vs the vendor's ${licence.ip}`,
      record.name !== licence.licname && `name ${record.name} vs the vendor's ${licence.licname}`,
      record.goneSince !== undefined && `marked gone from the vendor's list since ${record.goneSince}`,
      // A key the vendor issued on an earlier day (one issued tonight may come after the sync read it).
      licence.key !== "" &&
        licence.lickey_change_date !== "" &&
        licence.lickey_change_date < night &&
        record.key !== licence.key &&
        `key ${record.key} vs the vendor's ${licence.key}`,
    ].filter(Boolean);
    if (differences.length > 0) {
      throw new Violation(
        `after night ${night}: licence ${licence.id} differs from the vendor's book: ${differences.join("; ")}`,
      );
    }
  }
  const ids = new Set(book.map((l) => l.id));
  for (const record of register.values()) {
    if (!ids.has(record.id) && record.goneSince === undefined) {
      throw new Violation(
        `after night ${night}: licence ${record.id} is in the register but not at the vendor, and not marked gone`,
      );
    }
  }

  const record = await world.rawRegister.nights.read(night);
  // Its renewals (its successor orders are held to their plans by checkPlannedSuccessors).
  const charged = world.charges.filter((c) => c.label === `watcher:${night}` && c.func === "service.prolong");
  for (const renewal of record.renewals) {
    const paid = charged.filter((c) => c.elid === renewal.licenceId).length;
    if (renewal.outcome === "applied" && paid === 0) {
      // A panel renewal to the very expiry an unanswered renewal expected: the one case the evidence
      // cannot tell apart (panelTwin), one charge in all, the panel's.
      const intent = await world.rawRegister.idempotency.find(
        WATCHER_SCOPE,
        `watch:${renewal.licenceId}:${night}`,
      );
      if (intent && panelTwin(world, intent, renewal.licenceId)) {
        sim.stats.exempted += 1;
        continue;
      }
    }
    if (renewal.outcome === "applied" && paid !== 1) {
      throw new Violation(
        `night ${night} records the renewal of ${renewal.licenceId} as applied, but the watcher's key was charged ${paid} times`,
      );
    }
    if ((renewal.outcome === "refused" || renewal.outcome === "skipped") && paid !== 0) {
      throw new Violation(
        `night ${night} records the renewal of ${renewal.licenceId} as ${renewal.outcome} (${renewal.detail}), but the vendor charged it`,
      );
    }
  }
  const counted = new Set(record.renewals.map((r) => r.licenceId));
  for (const charge of charged) {
    if (!counted.has(charge.elid)) {
      throw new Violation(
        `night ${night} charged licence ${charge.elid} but its record of renewals does not have it`,
      );
    }
  }
}

/**
 * Past every sent intent's settle window and lock (a dead process's claim or reconcile lease too): the
 * late vendor acts are waited out for real first (the sandbox's timers), then the world's clock moves.
 */
export async function waitForSettle(world: World): Promise<void> {
  await waitForLateActs(world);
  const now = world.nowMs();
  let until = now;
  for (const record of await world.rawRegister.idempotency.unresolved(500)) {
    // A lock or lease ends once the clock is past it (a lease is taken only from `lockedUntil < now`).
    const due = Math.max((record.sentAt ?? 0) + TIMING.settleMs, record.lockedUntil) + 1;
    until = Math.max(until, due);
  }
  world.advance(until - now);
}

/**
 * Past every lease and lock a dead process took (its claims, holds, night renewals and send leases, a
 * lock's or send lease's length from now at least; the reconciler's and the reconciler's send leases,
 * longer, as journalled): late vendor acts waited out for real first, then the world's clock moves.
 */
export async function waitForDeadLeases(world: World): Promise<void> {
  await waitForLateActs(world);
  const now = world.nowMs();
  let until = now + Math.max(TIMING.lockMs, TIMING.sendLeaseMs);
  for (const entry of world.journal) {
    if (!entry.death?.dead || entry.result === false) continue;
    const end =
      entry.store === "alerts" && entry.method === "lease"
        ? entry.args[2]
        : entry.store === "idempotency" && entry.method === "lease"
          ? entry.args[3]
          : entry.store === "nights" && entry.method === "begin"
            ? (entry.args[1] as { leaseUntil?: number }).leaseUntil
            : undefined;
    if (typeof end === "number") until = Math.max(until, end);
  }
  world.advance(until + 1 - now);
}

/** Waits, in real time, until no late vendor act is still to come (the sandbox's timers run on it). */
export async function waitForLateActs(world: World): Promise<void> {
  const wait = world.lateActsUntilRealMs - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

/** The licence a charge's intent succeeds: a client's successor intent's, or a night's order of a plan. */
function predecessorOf(sim: Sim, charge: AttributedCharge): string | undefined {
  if (!charge.intent || charge.func !== "soft.order.param") return undefined;
  const [scope, key] = splitIntent(charge.intent);
  if (scope === WATCHER_SCOPE) return watchSuccessorOf(key)?.licenceId;
  const intent = CLIENT_SCOPES.includes(scope) ? sim.byKey.get(key) : undefined;
  return intent?.kind === "successor" ? intent.licenceId : undefined;
}

/**
 * The licences the vendor placed (and charged) for successor intents, the client's and the watcher's
 * (planned), by predecessor, in the order charged.
 */
function placedSuccessors(sim: Sim, world: World): Map<string, AttributedCharge[]> {
  const by = new Map<string, AttributedCharge[]>();
  for (const charge of world.charges) {
    const predecessor = predecessorOf(sim, charge);
    if (predecessor === undefined) continue;
    by.set(predecessor, [...(by.get(predecessor) ?? []), charge]);
  }
  return by;
}

/**
 * (7) Planned successors, after every command. A night orders one (under its key
 * `watch-successor:<licence>:<night>`, by the night's own call, a `soft.order.param` and nothing else)
 * only for a licence whose plan stood when that run of the night began (the last one stored, not
 * dropped), never on a night before the plan's `on`, never for a licence suspended through the desk
 * as the night began (marked ours, and suspended at the vendor: still so when the order was charged),
 * always an ISPmanager 6 licence on its predecessor's IP; and once per plan: a licence's second order
 * by a night only after a new plan was stored since its first (a plan is carried out once, ever).
 */
export function checkPlannedSuccessors(sim: Sim, world: World): void {
  const byPredecessor = new Map<string, AttributedCharge[]>();
  for (const charge of world.charges) {
    const [scope, key] = charge.intent ? splitIntent(charge.intent) : ["", ""];
    const named = scope === WATCHER_SCOPE ? watchSuccessorOf(key) : undefined;
    if (!named) continue;
    const what = `night ${named.night} ordered a successor of licence ${named.licenceId} (${describe(charge)})`;
    if (charge.func !== "soft.order.param" || charge.label !== `watcher:${named.night}`)
      throw new Violation(`${what}: not its own order, or not that night's`);
    const run = world.nightRuns.findLast((r) => r.night === named.night && r.startedMs <= charge.wallMs);
    if (!run) throw new Violation(`${what}, though no run of that night had begun`);
    const plan = sim.plans.findLast((p) => p.licenceId === named.licenceId && p.wallMs <= run.startedMs);
    if (!plan?.plan)
      throw new Violation(
        `${what}, though ${plan ? "its plan was dropped" : "no successor was planned for it"} before the night began`,
      );
    if (plan.plan.on !== undefined && named.night < plan.plan.on)
      throw new Violation(`${what}, before the night its plan named, ${plan.plan.on}`);
    if (run.deskSuspended?.has(named.licenceId) && charge.predecessor?.status === "3")
      throw new Violation(
        `${what}, though the licence was suspended through the desk as the night began (and at the vendor when it was charged)`,
      );
    // As the vendor placed it (the client may have changed its product since, within its line).
    const placed = charge.placed;
    const old = world.sandbox.state.get(named.licenceId);
    const product = placed && world.catalogue.byPricelist(placed.pricelist);
    const ipOf = (ip: string) => canonicalIp(ip) ?? ip;
    if (
      !placed ||
      !old ||
      !product ||
      generationOf(product) !== "ispmanager6" ||
      ipOf(placed.ip) !== ipOf(old.ip) ||
      (plan.plan.product !== undefined && product.id !== plan.plan.product)
    ) {
      throw new Violation(
        `${what}: placed ${placed?.pricelist} on ${placed?.ip}, not the plan's ISPmanager 6 licence (${plan.plan.product ?? "the catalogue's"}) on its IP ${old?.ip}`,
      );
    }
    byPredecessor.set(named.licenceId, [...(byPredecessor.get(named.licenceId) ?? []), charge]);
  }
  for (const [licenceId, charges] of byPredecessor) {
    for (const [i, later] of charges.entries()) {
      const earlier = charges[i - 1];
      if (!earlier) continue;
      const run = world.nightRuns.findLast((r) => r.startedMs <= later.wallMs);
      const replanned = sim.plans.some(
        (p) =>
          p.licenceId === licenceId &&
          p.plan &&
          p.wallMs > earlier.wallMs &&
          p.wallMs <= (run?.startedMs ?? 0),
      );
      if (!replanned) {
        throw new Violation(
          `licence ${licenceId}'s planned successor was ordered twice by the watcher, with no new plan in between: ${describe(earlier)}, then ${describe(later)}`,
        );
      }
    }
  }
}

/**
 * (5) Successions, after every command. Never two live successors of one licence: the vendor never
 * runs two licences the desk placed as successors of one predecessor at once, and the desk places a
 * second only once the first is gone (deleted at the vendor before the second was charged); the
 * register never shows two live licences naming one predecessor, and a predecessor is only ever linked
 * to a licence placed as its own successor (which names it back).
 * Every licence the desk deleted at the vendor is a retirement (the simulation's client never deletes
 * through the API): a licence with a successor, its retireOld not "never", deleted only while that
 * successor ran at the vendor (status 2 right before the delete), by a night only after its expiry
 * when it was to go after it, and on the successor's own request only when it was to go at once.
 */
export async function checkSuccessions(sim: Sim, world: World): Promise<void> {
  const placed = placedSuccessors(sim, world);
  const book = new Map(world.vendorBook().map((l) => [l.id, l]));
  for (const [predecessor, charges] of placed) {
    // A second only once the first is gone (deleted at the vendor before the second was charged).
    for (const [i, later] of charges.entries()) {
      const earlier = charges[i - 1];
      if (!earlier) continue;
      const gone = world.deletions.some((d) => d.elid === earlier.elid && d.wallMs <= later.wallMs);
      if (!gone) {
        throw new Violation(
          `licence ${predecessor} got a second ISPmanager 6 licence while its first successor still ran: ${describe(earlier)}, then ${describe(later)}`,
        );
      }
    }
    const live = charges.filter((c) => book.get(c.elid)?.status !== "4");
    if (live.length > 1) {
      throw new Violation(
        `licence ${predecessor} has ${live.length} live successors at the vendor, each placed (and charged) by the desk: ${live.map(describe).join("; ")}`,
      );
    }
  }
  const register = await allLicences(world.rawRegister.licences);
  const liveSuccessors = new Map<string, string[]>();
  for (const record of register.values()) {
    if (record.predecessorId === undefined || !isLive(record)) continue;
    liveSuccessors.set(record.predecessorId, [
      ...(liveSuccessors.get(record.predecessorId) ?? []),
      record.id,
    ]);
  }
  for (const [predecessor, ids] of liveSuccessors) {
    if (ids.length > 1) {
      throw new Violation(
        `the register links ${ids.length} live successors to licence ${predecessor}: ${ids.join(", ")}`,
      );
    }
  }
  for (const record of register.values()) {
    if (record.successorId === undefined) continue;
    const own = (placed.get(record.id) ?? []).some((c) => c.elid === record.successorId);
    if (!own) {
      throw new Violation(
        `licence ${record.id} is linked to successor ${record.successorId}, which no successor intent of it placed (placed: ${(placed.get(record.id) ?? []).map((c) => c.elid).join(", ") || "none"})`,
      );
    }
    const successor = register.get(record.successorId);
    if (successor && successor.predecessorId !== record.id) {
      throw new Violation(
        `licence ${record.id} is linked to successor ${record.successorId}, whose record names predecessor ${successor.predecessorId}`,
      );
    }
  }
  for (const deletion of world.deletions) {
    if (deletion.label?.startsWith("panel:")) continue;
    const what = `the desk (${deletion.label ?? "no call"}) deleted licence ${deletion.elid} at the vendor on ${deletion.vendorToday}`;
    const record = register.get(deletion.elid);
    const successors = new Set<string>(
      [...register.values()].filter((r) => r.predecessorId === deletion.elid).map((r) => r.id),
    );
    for (const charge of placed.get(deletion.elid) ?? []) successors.add(charge.elid);
    if (record?.successorId !== undefined) successors.add(record.successorId);
    if (successors.size === 0)
      throw new Violation(`${what}, though it has no successor: only a retirement deletes`);
    const running = deletion.sameIp.filter((l) => successors.has(l.id) && l.status === "2");
    if (running.length === 0) {
      throw new Violation(
        `${what} before its successor ran there: its successors ${[...successors].join(", ")} were ${
          deletion.sameIp
            .filter((l) => successors.has(l.id))
            .map((l) => `${l.id} status ${l.status}`)
            .join(", ") || "not at the vendor"
        }`,
      );
    }
    if (record?.retireOld === "never")
      throw new Violation(`${what}, though its successor was ordered with retireOld "never"`);
    const expiry = deletion.before?.expiredate;
    if (
      deletion.label?.startsWith("watcher:") &&
      record?.retireOld === "after_expiry" &&
      expiry !== undefined &&
      deletion.vendorToday <= expiry
    ) {
      throw new Violation(`${what}, to be retired after its expiry, which is ${expiry}`);
    }
    if (deletion.label?.startsWith("api:")) {
      const key = deletion.label.slice(deletion.label.indexOf(":", "api:".length) + 1);
      const intent = sim.byKey.get(key);
      const retireOld = (intent?.body as { retireOld?: string } | undefined)?.retireOld;
      if (intent?.kind !== "successor" || retireOld !== "now") {
        throw new Violation(
          `${what} on the request ${key} (${intent?.kind}, retireOld ${retireOld}), which did not ask to retire it at once`,
        );
      }
    }
  }
}

/**
 * (6) Retirements happen: after a healthy night, every succeeded licence due to go (retireOld "now", or
 * "after_expiry" with its expiry before the night) whose successor ran at the vendor before the night
 * and still runs is deleted at the vendor. Judged only where nothing could excuse a night for keeping
 * it: no process ever died in the run, or every dead process's lease ran out (`afterLeases`: the
 * finale); no vendor fault during the night; no panel action on either licence since it started; no
 * money call of either still open (it holds the licence).
 */
export async function checkRetirementsDone(
  sim: Sim,
  world: World,
  night: string,
  started: { wallMs: number; calls: number; vendor: Map<string, string> },
  afterLeases: boolean,
): Promise<void> {
  if (sim.stats.kills > 0 && !afterLeases) return;
  if (world.sandbox.calls.slice(started.calls).some((c) => c.fault !== undefined)) return;
  const open = new Set<string>();
  for (const record of await world.rawRegister.idempotency.unresolved(500)) {
    const request = record.request as { id?: string } | undefined;
    open.add(request?.id ?? record.context.licenceId ?? "");
  }
  const touched = new Set(
    world.panelLog.filter((e) => e.wallMs >= started.wallMs && e.licenceId).map((e) => e.licenceId),
  );
  const book = new Map(world.vendorBook().map((l) => [l.id, l]));
  for (const record of (await allLicences(world.rawRegister.licences)).values()) {
    const successor = record.successorId;
    if (successor === undefined || !isLive(record)) continue;
    const due =
      record.retireOld === "now" ||
      (record.retireOld === "after_expiry" && record.expiresOn !== undefined && record.expiresOn < night);
    if (!due || book.get(record.id)?.status === "4") continue;
    if (started.vendor.get(successor) !== "2" || book.get(successor)?.status !== "2") continue;
    if (open.has(record.id) || open.has(successor) || touched.has(record.id) || touched.has(successor))
      continue;
    if (book.get(record.id)?.expiredate !== record.expiresOn) continue;
    throw new Violation(
      `after night ${night}: licence ${record.id} (retireOld ${record.retireOld}, expiry ${record.expiresOn}) is still at the vendor (status ${book.get(record.id)?.status}), though its successor ${successor} ran there before the night and runs still`,
    );
  }
}
