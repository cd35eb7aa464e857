import fc from "fast-check";
import type { FaultKind } from "../../sandbox/faults.ts";
import type { Quirks } from "../../sandbox/quirks.ts";
import { OrderBody, type RenewBody, validate } from "../../shared/api/requests.ts";
import { addDays, type IsoDate } from "../../shared/dates.ts";
import { licenceDesk, type MoneyResult } from "../../shared/licences/service.ts";
import type { AutoRenew } from "../../shared/register/types.ts";
import { allLicences } from "../../shared/watcher/sync.ts";
import {
  checkAlertsDelivered,
  checkConverged,
  checkLapsesTold,
  checkMoney,
  checkNoAlertTwice,
  checkSettled,
  summaryKey,
  waitForLateActs,
  waitForSettle,
} from "./checks.ts";
import {
  type Answer,
  answerOf,
  type Intent,
  isFinal,
  newIntent,
  recordAnswer,
  type Sim,
  Violation,
} from "./model.ts";
import { API_SCOPE, type Death, newDeath, type OpOutcome, TIMING, type World } from "./world.ts";

/**
 * The commands of the simulation, each a step a client, the vendor, the scheduler or fate takes, and
 * the invariants checked after each (`checks.ts`).
 */

type Cmd = fc.AsyncCommand<Sim, World>;

export interface OrderSpec {
  product: "ispmanager5-lite" | "ispmanager5-business";
  period: 1 | 12;
  /** The IP written as a long, upper-case IPv6 address (the schema makes it canonical). */
  ipv6: boolean;
  autoRenew: AutoRenew;
  nodes: number | undefined;
  /** A name the vendor keeps as sent, with non-ASCII letters and an ampersand. */
  fancyName: boolean;
}

const orderSpec: fc.Arbitrary<OrderSpec> = fc.record({
  product: fc.constantFrom("ispmanager5-lite", "ispmanager5-lite", "ispmanager5-business"),
  period: fc.constantFrom(1, 1, 12) as fc.Arbitrary<1 | 12>,
  ipv6: fc.boolean(),
  autoRenew: fc.constantFrom(null, 1, 12) as fc.Arbitrary<AutoRenew>,
  nodes: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  fancyName: fc.boolean(),
});

const showSpec = (s: OrderSpec) =>
  `${s.product.replace("ispmanager5-", "")}/${s.period}m${s.ipv6 ? "/v6" : ""}${s.autoRenew ? `/auto${s.autoRenew}` : ""}${s.nodes && s.product.endsWith("business") ? `/n${s.nodes}` : ""}${s.fancyName ? "/fancy" : ""}`;

function orderBody(sim: Sim, spec: OrderSpec): OrderBody {
  const n = sim.seq + 1;
  const raw = {
    ip: spec.ipv6
      ? `2001:DB8:0:0:0:0:${n.toString(16).toUpperCase()}:1`
      : `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
    name: spec.fancyName ? `Zoë & Jürgen ${n}` : `sim-${n}`,
    product: spec.product,
    period: spec.period,
    ...(spec.product === "ispmanager5-business" && spec.nodes !== undefined && { nodes: spec.nodes }),
    autoRenew: spec.autoRenew,
  };
  const parsed = validate(OrderBody, raw);
  if (!parsed.ok) throw new Error(`the simulation built an invalid order: ${JSON.stringify(parsed.fields)}`);
  return parsed.value;
}

const caller = (world: World) => ({ client: API_SCOPE, now: world.sandbox.state.now() });

/** One request of the client, as the route would run it (one process), possibly killed. */
function call(world: World, intent: Intent, death?: Death): Promise<OpOutcome<MoneyResult>> {
  const desk = licenceDesk(world.deskDeps(), caller(world));
  return world.op(
    `api:${API_SCOPE}:${intent.key}`,
    () =>
      intent.kind === "order"
        ? desk.order(intent.body as OrderBody, intent.key)
        : desk.renew(intent.licenceId ?? "", intent.body as RenewBody, intent.key),
    death,
  );
}

async function ask(sim: Sim, world: World, intent: Intent, death?: Death): Promise<Answer> {
  const answer = answerOf(await call(world, intent, death));
  recordAnswer(sim, intent, answer);
  if (answer.killedAt) await noteKill(sim, world, intent);
  return answer;
}

async function noteKill(sim: Sim, world: World, intent: Intent): Promise<void> {
  sim.stats.kills += 1;
  const record = await world.rawRegister.idempotency.find(API_SCOPE, intent.key);
  if (record?.sentAt !== undefined) sim.stats.killsAfterSend += 1;
}

const pickOf = <T>(items: T[], pick: number): T | undefined => items[pick % Math.max(1, items.length)];
const retryable = (sim: Sim) => sim.intents.filter((i) => i.next === "retry");
const newKeyable = (sim: Sim) => sim.intents.filter((i) => i.next === "new-key");

/** The register's licences become the client's (orders settled by the reconciler, licences synced). */
async function refreshLicences(sim: Sim, world: World): Promise<void> {
  const ids = [...(await allLicences(world.rawRegister.licences)).keys()];
  sim.licences = ids.sort();
}

/** Orders the reconciler settled as placed (found in the journal since `from`): each must be alerted once. */
function expectSettledAlerts(sim: Sim, world: World, from: number): string[] {
  const keys: string[] = [];
  for (const entry of world.journal.slice(from)) {
    if (entry.label !== "reconciler" || entry.store !== "idempotency" || entry.method !== "complete")
      continue;
    const [scope, key, , outcome] = entry.args as [string, string, unknown, string];
    if (outcome !== "applied" || scope !== API_SCOPE || sim.byKey.get(key)?.kind !== "order") continue;
    const alert = `intent:${scope}:${key}|order_settled|settled`;
    if (!sim.expectedAlerts.some((e) => e.key === alert)) {
      sim.expectedAlerts.push({ key: alert, why: `the reconciler settled order ${key} as placed` });
      keys.push(alert);
    }
  }
  return keys;
}

async function afterCommand(sim: Sim, world: World): Promise<void> {
  sim.stats.commands += 1;
  await refreshLicences(sim, world);
  await checkMoney(sim, world);
  checkNoAlertTwice(world);
}

/**
 * Violations matching SIM_KNOWN (a regular expression) are logged and counted, not thrown: a campaign
 * can look past a known bug for the next one. Never set in `npm test`.
 */
const KNOWN = process.env.SIM_KNOWN ? new RegExp(process.env.SIM_KNOWN) : undefined;

async function tolerating(sim: Sim, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (!(error instanceof Violation) || !KNOWN?.test(error.message)) throw error;
    sim.stats.knownHits += 1;
    sim.log.push(`    KNOWN BUG: ${error.message}`);
  }
}

async function step(sim: Sim, world: World, title: string, body: () => Promise<void>): Promise<void> {
  sim.log.push(`${title} [vendor ${world.sandbox.state.now().toISOString()}]`);
  await tolerating(sim, body);
  await tolerating(sim, () => afterCommand(sim, world));
}

// ---- the client's requests --------------------------------------------------------------------

class OrderCommand implements Cmd {
  constructor(readonly spec: OrderSpec) {}
  check = () => true;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      await ask(sim, world, newIntent(sim, "order", orderBody(sim, this.spec), undefined));
    });
  toString = () => `order(${showSpec(this.spec)})`;
}

class RenewCommand implements Cmd {
  constructor(
    readonly pick: number,
    readonly period: 1 | 12,
  ) {}
  check = (sim: Readonly<Sim>) => sim.licences.length > 0;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      const id = pickOf(sim.licences, this.pick) as string;
      await ask(sim, world, newIntent(sim, "renew", { period: this.period }, id));
    });
  toString = () => `renew(#${this.pick}, ${this.period}m)`;
}

/** The same key again, as the answer said (after unknown, pending, in progress, throttled, no answer). */
class RetryCommand implements Cmd {
  constructor(readonly pick: number) {}
  check = (sim: Readonly<Sim>) => retryable(sim as Sim).length > 0;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      await ask(sim, world, pickOf(retryable(sim), this.pick) as Intent);
    });
  toString = () => `retry(#${this.pick})`;
}

/** Any earlier key again, same body: a decided one must answer as it did. */
class RepeatCommand implements Cmd {
  constructor(readonly pick: number) {}
  check = (sim: Readonly<Sim>) => sim.intents.length > 0;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      await ask(sim, world, pickOf(sim.intents, this.pick) as Intent);
    });
  toString = () => `repeat(#${this.pick})`;
}

/** After order_not_placed / renewal_not_applied, and only then: the same request with a new key. */
class NewKeyCommand implements Cmd {
  constructor(readonly pick: number) {}
  check = (sim: Readonly<Sim>) => newKeyable(sim as Sim).length > 0;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      const old = pickOf(newKeyable(sim), this.pick) as Intent;
      old.next = "stop";
      const chain = sim.chains[old.chain];
      await ask(sim, world, newIntent(sim, old.kind, old.body, old.licenceId, chain));
    });
  toString = () => `new-key(#${this.pick})`;
}

// ---- the vendor's habits ----------------------------------------------------------------------

type QuirkChoice = "page-cap" | "page-cap-no-total" | "key-later" | "plain";

const QUIRKS: Record<QuirkChoice, Partial<Quirks>> = {
  /** Pages of at most 2 rows, whatever we ask for (with the total, so a client can tell). */
  "page-cap": { pageCap: 2, omitPageTotal: false },
  /** Pages of at most 2 rows and no total: only an empty page says the list is over. */
  "page-cap-no-total": { pageCap: 2, omitPageTotal: true },
  /** A new licence is active two days before its key is issued. */
  "key-later": { keyDelayMs: 2 * 86_400_000 },
  plain: { pageCap: null, omitPageTotal: false, keyDelayMs: 0 },
};

class QuirkCommand implements Cmd {
  constructor(readonly quirk: QuirkChoice) {}
  check = () => true;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      world.sandbox.state.setQuirks(QUIRKS[this.quirk]);
    });
  toString = () => `quirks(${this.quirk})`;
}

class ChangeCommand implements Cmd {
  constructor(
    readonly what: "suspend" | "resume" | "autoRenew",
    readonly pick: number,
    readonly autoRenew: AutoRenew,
  ) {}
  check = (sim: Readonly<Sim>) => sim.licences.length > 0;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      const id = pickOf(sim.licences, this.pick) as string;
      const desk = licenceDesk(world.deskDeps(), caller(world));
      const outcome = await world.op("api-admin", () =>
        this.what === "suspend"
          ? desk.suspend(id)
          : this.what === "resume"
            ? desk.resume(id)
            : desk.update(id, { autoRenew: this.autoRenew }),
      );
      const said =
        outcome.kind === "ok"
          ? "ok"
          : outcome.kind === "error"
            ? String((outcome.error as Error).message)
            : "killed";
      sim.log.push(`    ${this.what} ${id}: ${said.slice(0, 120)}`);
    });
  toString = () => `${this.what}(#${this.pick}${this.what === "autoRenew" ? `, ${this.autoRenew}` : ""})`;
}

// ---- the vendor misbehaves ----------------------------------------------------------------------

type FaultChoice =
  | "slow"
  | "act-then-hang"
  | "act-then-drop"
  | "act-late"
  | "timeout"
  | "drop"
  | "throttle"
  | "throttle-503"
  | "no-expiry"
  | "no-expiry+throttled-read"
  | "trickle"
  | "http500";

class FaultCommand implements Cmd {
  constructor(
    readonly kind: FaultChoice,
    readonly target: "order" | "renew",
    readonly delayMs: number,
  ) {}
  check = () => true;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      sim.stats.faults += 1;
      const func = this.target === "order" ? "soft.order.param" : "service.prolong";
      switch (this.kind) {
        case "no-expiry+throttled-read":
          world.fault(func, "no-expiry", undefined, { func: "soft.edit", kind: "throttle", count: 2 });
          break;
        case "act-late":
        case "slow":
          world.fault(func, this.kind, this.delayMs);
          break;
        case "throttle":
        case "throttle-503":
          world.fault(func, this.kind, 0);
          break;
        case "trickle":
          world.fault(func, "trickle", 60);
          break;
        default:
          world.fault(func, this.kind);
      }
    });
  toString = () =>
    `fault(${this.target}: ${this.kind}${this.kind === "act-late" || this.kind === "slow" ? ` ${this.delayMs} ms` : ""})`;
}

class VendorFaultCommand implements Cmd {
  constructor(
    readonly func: string,
    readonly kind: FaultKind,
    readonly delayMs: number | undefined,
  ) {}
  check = () => true;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      world.fault(this.func, this.kind, this.delayMs);
    });
  toString = () => `vendor-fault(${this.func}: ${this.kind}${this.delayMs ? ` ${this.delayMs} ms` : ""})`;
}

// ---- the process dies -------------------------------------------------------------------------

type KillTarget =
  | { op: "order"; spec: OrderSpec }
  | { op: "renew"; pick: number; period: 1 | 12 }
  | { op: "retry"; pick: number }
  | { op: "reconcile" }
  | { op: "night"; days: number };

class KillCommand implements Cmd {
  constructor(
    readonly target: KillTarget,
    readonly at: number | string,
    readonly mode: Death["mode"],
  ) {}
  check = (sim: Readonly<Sim>) => {
    if (this.target.op === "renew") return sim.licences.length > 0;
    if (this.target.op === "retry") return retryable(sim as Sim).length > 0;
    return true;
  };
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      const death = newDeath(this.at, this.mode);
      const target = this.target;
      switch (target.op) {
        case "order":
          await ask(sim, world, newIntent(sim, "order", orderBody(sim, target.spec), undefined), death);
          break;
        case "renew": {
          const id = pickOf(sim.licences, target.pick) as string;
          await ask(sim, world, newIntent(sim, "renew", { period: target.period }, id), death);
          break;
        }
        case "retry":
          await ask(sim, world, pickOf(retryable(sim), target.pick) as Intent, death);
          break;
        case "reconcile": {
          // Past the settle window, so the pass has something to settle when it dies.
          await waitForSettle(world);
          const from = world.journal.length;
          const outcome = await world.op(
            "reconciler",
            () => world.reconcilePass(world.sandbox.state.now()),
            death,
          );
          if (outcome.kind === "killed") sim.stats.kills += 1;
          expectSettledAlerts(sim, world, from);
          sim.log.push(
            `    reconciler pass: ${outcome.kind === "killed" ? `killed at ${outcome.point}` : outcome.kind}`,
          );
          break;
        }
        case "night":
          if (sim.owedRerun !== undefined) await night(sim, world, sim.owedRerun, 1);
          await night(sim, world, nextNight(sim, target.days), 1, death);
          break;
      }
    });
  toString = () => {
    const t = this.target;
    const what =
      t.op === "order"
        ? `order(${showSpec(t.spec)})`
        : t.op === "renew"
          ? `renew(#${t.pick}, ${t.period}m)`
          : t.op === "retry"
            ? `retry(#${t.pick})`
            : t.op === "night"
              ? `night(+${t.days}d)`
              : "reconcile";
    return `kill ${what} at ${typeof this.at === "number" ? `call ${this.at}` : `its first ${this.at}`} (${this.mode})`;
  };
}

// ---- several at once --------------------------------------------------------------------------

type Concurrent =
  | { op: "order"; spec: OrderSpec }
  | { op: "twin-order"; spec: OrderSpec }
  | { op: "renew"; pick: number; period: 1 | 12 }
  | { op: "retry"; pick: number }
  | { op: "reconcile" };

class ConcurrentCommand implements Cmd {
  constructor(readonly ops: Concurrent[]) {}
  check = () => true;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      const calls: Array<{ intent: Intent; outcome: Promise<OpOutcome<MoneyResult>> }> = [];
      const passes: Promise<unknown>[] = [];
      const from = world.journal.length;
      for (const op of this.ops) {
        switch (op.op) {
          case "order":
          case "twin-order": {
            const intent = newIntent(sim, "order", orderBody(sim, op.spec), undefined);
            calls.push({ intent, outcome: call(world, intent) });
            if (op.op === "twin-order") calls.push({ intent, outcome: call(world, intent) });
            break;
          }
          case "renew": {
            if (sim.licences.length === 0) break;
            const id = pickOf(sim.licences, op.pick) as string;
            const intent = newIntent(sim, "renew", { period: op.period }, id);
            calls.push({ intent, outcome: call(world, intent) });
            break;
          }
          case "retry": {
            const intent = pickOf(retryable(sim), op.pick);
            if (intent) calls.push({ intent, outcome: call(world, intent) });
            break;
          }
          case "reconcile":
            passes.push(world.op("reconciler", () => world.reconcilePass(world.sandbox.state.now())));
            break;
        }
      }
      const outcomes = await Promise.all(calls.map((c) => c.outcome));
      await Promise.all(passes);
      // Final answers first, so a concurrent "in progress" is not taken for a change of mind.
      const answers = outcomes.map((o, i) => ({
        intent: (calls[i] as (typeof calls)[number]).intent,
        answer: answerOf(o),
      }));
      answers.sort(
        (a, b) =>
          Number(b.answer.status >= 200 && b.answer.status < 300) -
          Number(a.answer.status >= 200 && a.answer.status < 300),
      );
      for (const { intent, answer } of answers) recordAnswer(sim, intent, answer, true);
      expectSettledAlerts(sim, world, from);
    });
  toString = () =>
    `concurrently[${this.ops
      .map((op) =>
        op.op === "order" || op.op === "twin-order"
          ? `${op.op}(${showSpec(op.spec)})`
          : op.op === "renew"
            ? `renew(#${op.pick}, ${op.period}m)`
            : op.op === "retry"
              ? `retry(#${op.pick})`
              : "reconcile",
      )
      .join(", ")}]`;
}

// ---- time passes ------------------------------------------------------------------------------

/** Past every settle window, then one reconciler pass: every charge must now be known to the register. */
class SettleCommand implements Cmd {
  check = () => true;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      await waitForSettle(world);
      const from = world.journal.length;
      const outcome = await world.op("reconciler", () => world.reconcilePass(world.sandbox.state.now()));
      if (outcome.kind !== "ok")
        throw new Violation(
          `a healthy reconciler pass failed: ${String(outcome.kind === "error" ? outcome.error : "")}`,
        );
      const report = outcome.value;
      sim.stats.reconciled += report.settled.length;
      sim.stats.reconciledApplied += report.settled.filter((s) => s.outcome === "applied").length;
      sim.log.push(
        `    reconciler: settled ${report.settled.map((s) => `${s.key}=${s.outcome}`).join(", ") || "nothing"}; pending ${report.pending}`,
      );
      const expected = expectSettledAlerts(sim, world, from);
      const sent = new Set(world.mails.flatMap((m) => m.keys));
      for (const key of expected) {
        if (!sent.has(key))
          throw new Violation(
            `a healthy reconciler pass settled an order as placed but sent no alert ${key}`,
          );
      }
      await checkSettled(sim, world);
    });
  toString = () => "settle+reconcile";
}

function nextNight(sim: Sim, days: number): IsoDate {
  return addDays(sim.night ?? "2021-05-01", days);
}

/** A reseller's change made while a night runs (`delayMs` after it starts). */
export interface NightChange {
  what: "autoRenew" | "suspend";
  pick: number;
  autoRenew: AutoRenew;
  /**
   * Counted from the night's start, from its first renewal reaching the vendor, or (scenarios only)
   * from the night's first write of this licence (held 200 ms so the change lands before it), or from
   * the night's first read of this licence's form reaching the vendor.
   */
  delayMs: number;
  after: "start" | "prolong" | "sync-write" | "form-read";
}

/**
 * A night of the watcher (`copies` at once), killed when `death` says so. The expectations of a night:
 * its summary, and the vendor's suspensions its sync wrote (told by a vendor_suspended alert before the
 * expiry, by the lapse's mail after it). After a healthy night: no alert lost, the register converged,
 * the night's record true.
 */
async function night(
  sim: Sim,
  world: World,
  date: IsoDate,
  copies: number,
  death?: Death,
  during?: NightChange,
): Promise<void> {
  await waitForLateActs(world);
  const at = new Date(`${date}T02:00:00Z`);
  if (!sim.nights.has(date)) {
    const expected = [{ key: summaryKey(date), why: `the summary of night ${date}` }];
    sim.nights.set(date, { at, expected });
    sim.expectedAlerts.push(...expected);
  }
  world.sandbox.setNow(at);
  const before = await allLicences(world.rawRegister.licences);
  const vendorBefore = new Map(world.vendorBook().map((l) => [l.id, l.status]));
  sim.night = date;
  sim.stats.nights += copies;
  if (copies > 1) sim.stats.concurrentNights += 1;
  const from = world.journal.length;
  const started = Date.now();
  const change = during && changeDuring(sim, world, during);
  const outcomes = await Promise.all(
    Array.from({ length: copies }, () => world.op(`watcher:${date}`, () => world.night(date, at), death)),
  );
  const changed = await change;
  // A suspension by the vendor the night's sync wrote (even a run killed right after) is owed its news:
  // before the expiry, a vendor_suspended alert of tonight; after it, the lapse's mail (checkLapsesTold).
  for (const [id, after] of await allLicences(world.rawRegister.licences)) {
    const was = before.get(id);
    if (!was || was.status === "suspended" || after.status !== "suspended" || after.suspendedBy) continue;
    if (after.expiresOn === undefined || after.expiresOn >= date) {
      const key = `licence:${id}|vendor_suspended|${date}`;
      if (!sim.expectedAlerts.some((e) => e.key === key)) {
        sim.expectedAlerts.push({
          key,
          why: `night ${date} wrote licence ${id} as suspended by the vendor before its expiry ${after.expiresOn}`,
        });
      }
    } else if (!sim.lapses.some((l) => l.id === id && l.expiresOn === after.expiresOn)) {
      sim.lapses.push({ id, expiresOn: after.expiresOn, night: date });
    }
  }
  expectSettledAlerts(sim, world, from);
  for (const outcome of outcomes) {
    if (outcome.kind === "killed") {
      sim.stats.kills += 1;
      sim.stats.killedNights += 1;
      sim.owedRerun = date;
      sim.log.push(`    night ${date}: killed at ${outcome.point}`);
      return;
    }
    if (outcome.kind === "error")
      throw new Violation(`a healthy night ${date} failed: ${String(outcome.error)}`);
    const r = outcome.value;
    sim.log.push(
      `    night ${date}: renewed ${r.renewed.map((x) => x.id).join(",") || "-"}; elsewhere ${r.renewedElsewhere.map((x) => x.id).join(",") || "-"}; failed ${r.failed.map((x) => x.id).join(",") || "-"}; unknown ${r.unknown.map((x) => x.id).join(",") || "-"}; busy ${r.busy.join(",") || "-"}; mails ${r.sent.length}`,
    );
  }
  sim.owedRerun = undefined;
  await waitForLateActs(world);
  if (changed) await checkChangeKept(world, changed, date, vendorBefore);
  await checkAlertsDelivered(sim, world, date, started);
  // A licence the reseller changed during the night may have been told before or after the change.
  await checkLapsesTold(sim, world, date, started, changed ? new Set([changed.id]) : new Set());
  await checkConverged(sim, world, date);
}

async function changeDuring(
  sim: Sim,
  world: World,
  change: NightChange,
): Promise<{ id: string; change: NightChange } | undefined> {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const id = pickOf(sim.licences, change.pick) as string;
  if (change.after === "prolong") {
    const seen = world.sandbox.callCount("service.prolong");
    const until = Date.now() + 3000;
    while (world.sandbox.callCount("service.prolong") === seen && Date.now() < until) await sleep(2);
  }
  if (change.after === "form-read") {
    const reads = () =>
      world.sandbox.calls.filter(
        (c) => c.func === "soft.edit" && c.params.elid === id && c.params.sim_label?.startsWith("watcher:"),
      ).length;
    const seen = reads();
    const until = Date.now() + 3000;
    while (reads() === seen && Date.now() < until) await sleep(2);
  }
  if (change.after === "sync-write") {
    const held = await world.pause(
      "licences.update",
      (label, args) => label.startsWith("watcher:") && args[0] === id,
      200,
    );
    if (!held) sim.log.push(`    (the night never wrote licence ${id}: the change comes after it)`);
  }
  await sleep(change.delayMs);
  const desk = licenceDesk(world.deskDeps(), caller(world));
  const outcome = await world.op("api-admin", () =>
    change.what === "suspend" ? desk.suspend(id) : desk.update(id, { autoRenew: change.autoRenew }),
  );
  const said = outcome.kind === "ok" ? "ok" : String((outcome as { error?: Error }).error?.message);
  sim.log.push(
    `    during the night, ${change.what} ${id}${change.what === "autoRenew" ? ` = ${change.autoRenew}` : ""}: ${said.slice(0, 120)}`,
  );
  return outcome.kind === "ok" ? { id, change } : undefined;
}

/** What a reseller set during the night is what the register holds after it: no lost update. */
async function checkChangeKept(
  world: World,
  { id, change }: { id: string; change: NightChange },
  date: IsoDate,
  vendorBefore: Map<string, string>,
): Promise<void> {
  // Suspended by us while active at the vendor: no alert may say the vendor did it.
  const falseAlert = `licence:${id}|vendor_suspended|${date}`;
  if (
    change.what === "suspend" &&
    vendorBefore.get(id) === "2" &&
    world.mails.some((m) => m.keys.includes(falseAlert))
  ) {
    throw new Violation(
      `licence ${id} was suspended through the API during night ${date}, and staff were told "suspended by the vendor ... we did not suspend it" (${falseAlert})`,
    );
  }
  const record = await world.rawRegister.licences.get(id);
  if (change.what === "autoRenew" && record?.autoRenew !== change.autoRenew) {
    throw new Violation(
      `autoRenew of licence ${id} was set to ${change.autoRenew} during the night; after it, the register says ${record?.autoRenew}`,
    );
  }
  if (change.what === "suspend" && (record?.suspendedBy !== "desk" || record.status !== "suspended")) {
    throw new Violation(
      `licence ${id} was suspended through the API during the night; after it, the register says ${record?.status}, suspendedBy ${record?.suspendedBy}`,
    );
  }
}

class NightCommand implements Cmd {
  constructor(
    readonly variant: "next" | "rerun" | "pair",
    readonly days: number,
    readonly during?: NightChange,
  ) {}
  check = (sim: Readonly<Sim>) => this.variant !== "rerun" || sim.night !== undefined;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      // The schedule retries a killed night before the next one comes.
      if (sim.owedRerun !== undefined && this.variant !== "rerun") {
        sim.log.push(`    (the schedule's retry of night ${sim.owedRerun} first)`);
        await night(sim, world, sim.owedRerun, 1);
      }
      await night(
        sim,
        world,
        this.variant === "rerun" ? (sim.night as IsoDate) : nextNight(sim, this.days),
        this.variant === "pair" ? 2 : 1,
        undefined,
        this.during,
      );
    });
  toString = () => {
    const d = this.during;
    const change = d
      ? `, ${d.what}(#${d.pick}${d.what === "autoRenew" ? `, ${d.autoRenew}` : ""}) ${d.delayMs} ms after ${
          {
            start: "it starts",
            prolong: "its first renewal",
            "sync-write": "its first write of it",
            "form-read": "its first read of its form",
          }[d.after]
        }`
      : "";
    return this.variant === "rerun"
      ? `night(rerun${change})`
      : `night(+${this.days}d${this.variant === "pair" ? ", two copies" : ""}${change})`;
  };
}

// ---- the arbitrary ----------------------------------------------------------------------------

const pick = fc.nat({ max: 20 });
const period = fc.constantFrom(1, 1, 1, 12) as fc.Arbitrary<1 | 12>;
const faultChoice = fc.constantFrom<FaultChoice>(
  "slow",
  "act-then-hang",
  "act-then-drop",
  "act-late",
  "act-late",
  "timeout",
  "drop",
  "throttle",
  "throttle-503",
  "no-expiry",
  "no-expiry+throttled-read",
  "trickle",
  "http500",
);

export function commandArbitrary(options: { nights: boolean }): fc.Arbitrary<Cmd> {
  const concurrentOp: fc.Arbitrary<Concurrent> = fc.oneof(
    orderSpec.map((spec) => ({ op: "order" as const, spec })),
    orderSpec.map((spec) => ({ op: "twin-order" as const, spec })),
    fc.record({ op: fc.constant("renew" as const), pick, period }),
    fc.record({ op: fc.constant("retry" as const), pick }),
    fc.constant({ op: "reconcile" as const }),
  );
  const killTarget: fc.Arbitrary<KillTarget> = fc.oneof(
    orderSpec.map((spec) => ({ op: "order" as const, spec })),
    fc.record({ op: fc.constant("renew" as const), pick, period }),
    fc.record({ op: fc.constant("retry" as const), pick }),
    fc.constant({ op: "reconcile" as const }),
    ...(options.nights
      ? [fc.record({ op: fc.constant("night" as const), days: fc.integer({ min: 1, max: 3 }) })]
      : []),
  );
  const arbitraries: Array<{ arbitrary: fc.Arbitrary<Cmd>; weight: number }> = [
    { arbitrary: orderSpec.map((s) => new OrderCommand(s)), weight: 4 },
    { arbitrary: fc.tuple(pick, period).map(([p, m]) => new RenewCommand(p, m)), weight: 5 },
    { arbitrary: pick.map((p) => new RetryCommand(p)), weight: 4 },
    { arbitrary: pick.map((p) => new RepeatCommand(p)), weight: 2 },
    {
      arbitrary: fc
        .constantFrom<QuirkChoice>("page-cap", "page-cap-no-total", "key-later", "plain")
        .map((q) => new QuirkCommand(q)),
      weight: 1,
    },
    { arbitrary: pick.map((p) => new NewKeyCommand(p)), weight: 3 },
    {
      arbitrary: fc
        .tuple(
          fc.constantFrom("suspend", "resume", "autoRenew") as fc.Arbitrary<
            "suspend" | "resume" | "autoRenew"
          >,
          pick,
          fc.constantFrom(null, 1, 12) as fc.Arbitrary<AutoRenew>,
        )
        .map(([what, p, a]) => new ChangeCommand(what, p, a)),
      weight: 2,
    },
    {
      arbitrary: fc
        .tuple(
          faultChoice,
          fc.constantFrom("order", "renew") as fc.Arbitrary<"order" | "renew">,
          fc.integer({ min: 50, max: TIMING.maxActLateMs }),
        )
        .map(([k, t, d]) => new FaultCommand(k, t, d)),
      weight: 6,
    },
    {
      arbitrary: fc
        .tuple(
          killTarget,
          fc.integer({ min: 1, max: 20 }),
          fc.integer({ min: 1, max: 90 }),
          fc.constantFrom("before", "during") as fc.Arbitrary<Death["mode"]>,
        )
        // A night makes many more calls than one request: its kill point ranges further.
        .map(([t, at, nightAt, mode]) => new KillCommand(t, t.op === "night" ? nightAt : at, mode)),
      weight: 5,
    },
    {
      arbitrary: fc
        .array(concurrentOp, { minLength: 2, maxLength: 3 })
        .map((ops) => new ConcurrentCommand(ops)),
      weight: 3,
    },
    { arbitrary: fc.constant(new SettleCommand()), weight: 3 },
  ];
  if (options.nights) {
    arbitraries.push({
      arbitrary: fc
        .tuple(
          fc.constantFrom("next", "next", "rerun", "pair") as fc.Arbitrary<"next" | "rerun" | "pair">,
          fc.integer({ min: 1, max: 3 }),
          fc.oneof(
            { arbitrary: fc.constant(undefined), weight: 2 },
            {
              arbitrary: fc.record({
                what: fc.constantFrom("autoRenew", "suspend") as fc.Arbitrary<"autoRenew" | "suspend">,
                pick,
                autoRenew: fc.constantFrom(null, 1, 12) as fc.Arbitrary<AutoRenew>,
                delayMs: fc.integer({ min: 0, max: 200 }),
                after: fc.constantFrom("start", "prolong") as fc.Arbitrary<"start" | "prolong">,
              }),
              weight: 1,
            },
          ),
        )
        .map(([v, d, during]) => new NightCommand(v, d, during)),
      weight: 3,
    });
  }
  return fc.oneof(...arbitraries);
}

/**
 * The client catches up, literally: every key it was told to retry is retried once (a key the register
 * has decided must answer its decision), then every purchase told "not applied" is made again once
 * with a new key.
 */
class CatchUpCommand implements Cmd {
  check = () => true;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      for (const intent of retryable(sim)) {
        const record = await world.rawRegister.idempotency.find(API_SCOPE, intent.key);
        const answer = await ask(sim, world, intent);
        if (record?.status === "completed" && !isFinal(answer)) {
          throw new Violation(
            `${intent.key} is completed in the register (${record.outcome}) but a retry with its key answered ${answer.status} ${answer.code}`,
          );
        }
      }
      for (const old of newKeyable(sim)) {
        old.next = "stop";
        await ask(sim, world, newIntent(sim, old.kind, old.body, old.licenceId, sim.chains[old.chain]));
      }
    });
  toString = () => "client catches up";
}

/**
 * After every lease a dead process took has run out, the last night once more: it sends everything
 * still pending, so an alert the checks let wait for a dead run's lease is sent now, or lost for good.
 */
class LastNightCommand implements Cmd {
  check = (sim: Readonly<Sim>) => sim.night !== undefined;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      if (sim.stats.kills > 0) {
        const wait = Math.max(TIMING.lockMs, TIMING.sendLeaseMs) + 100;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
      await night(sim, world, sim.owedRerun ?? (sim.night as IsoDate), 1);
    });
  toString = () => "night(rerun, after every lease ran out)";
}

/**
 * Every run ends past the settle window with a reconciler pass, the client catching up, and again;
 * then the last night once more.
 */
export const finale = (): Cmd[] => [
  new SettleCommand(),
  new CatchUpCommand(),
  new SettleCommand(),
  new LastNightCommand(),
];

export type { Cmd, Concurrent, FaultChoice, KillTarget, QuirkChoice };

/** The commands by name, for scenarios written out step by step (a bug's shortest sequence). */
export const steps = {
  order: (spec: Partial<OrderSpec> = {}): Cmd =>
    new OrderCommand({
      product: "ispmanager5-lite",
      period: 1,
      ipv6: false,
      autoRenew: null,
      nodes: undefined,
      fancyName: false,
      ...spec,
    }),
  renew: (pick: number, period: 1 | 12 = 1): Cmd => new RenewCommand(pick, period),
  change: (what: "suspend" | "resume" | "autoRenew", pick: number, autoRenew: AutoRenew = null): Cmd =>
    new ChangeCommand(what, pick, autoRenew),
  retry: (pick = 0): Cmd => new RetryCommand(pick),
  repeat: (pick = 0): Cmd => new RepeatCommand(pick),
  newKey: (pick = 0): Cmd => new NewKeyCommand(pick),
  fault: (kind: FaultChoice, target: "order" | "renew", delayMs = 100): Cmd =>
    new FaultCommand(kind, target, delayMs),
  /** `at`: the call count at which the process dies, or the first call of `store.method`. */
  kill: (target: KillTarget, at: number | string, mode: Death["mode"] = "before"): Cmd =>
    new KillCommand(target, at, mode),
  concurrently: (...ops: Concurrent[]): Cmd => new ConcurrentCommand(ops),
  settle: (): Cmd => new SettleCommand(),
  quirks: (quirk: QuirkChoice): Cmd => new QuirkCommand(quirk),
  /** Any sandbox fault on the next call of any vendor function (scenarios only). */
  vendorFault: (func: string, kind: FaultKind, delayMs?: number): Cmd =>
    new VendorFaultCommand(func, kind, delayMs),
  night: (variant: "next" | "rerun" | "pair" = "next", days = 1, during?: NightChange): Cmd =>
    new NightCommand(variant, days, during),
};
