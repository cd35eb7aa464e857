import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { errorReply } from "../../functions/lib/errors.ts";
import type { FaultKind } from "../../sandbox/faults.ts";
import type { Quirks } from "../../sandbox/quirks.ts";
import {
  ChangeProductBody,
  OrderBody,
  type RenewBody,
  SuccessorBody,
  UpdateBody,
  validate,
} from "../../shared/api/requests.ts";
import { generationOf } from "../../shared/domain/catalogue/catalogue.ts";
import { addDays, type IsoDate, toIsoDate } from "../../shared/domain/dates.ts";
import { licenceDesk, type MoneyResult } from "../../shared/domain/licences/desk.ts";
import { allLicences } from "../../shared/domain/night/sync.ts";
import type { AutoRenew } from "../../shared/domain/ports/licence-store.ts";
import { isLive } from "../../shared/domain/renewal/renewal-rules.ts";
import {
  checkAlertsDelivered,
  checkConverged,
  checkLapsesTold,
  checkMoney,
  checkNoAlertTwice,
  checkPlannedSuccessors,
  checkRetirementsDone,
  checkSettled,
  checkSuccessions,
  checkWatcherAgainstPanel,
  summaryKey,
  waitForDeadLeases,
  waitForLateActs,
  waitForSettle,
} from "./checks.ts";
import {
  type Answer,
  answerOf,
  type Intent,
  isFinal,
  newIntent,
  type PlanEntry,
  recordAnswer,
  type Sim,
  Violation,
} from "./model.ts";
import {
  API_SCOPE,
  CLIENT_SCOPES,
  type Death,
  newDeath,
  type OpOutcome,
  OTHER_SCOPE,
  type PanelAction,
  type PanelEntry,
  TIMING,
  type World,
} from "./world.ts";

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

const caller = (world: World, client = API_SCOPE) => ({ client, now: world.sandbox.state.now() });

const labelOf = (intent: Intent) => `api:${intent.scope}:${intent.key}`;

/** One request of the client, as the route would run it (one process), possibly killed. */
function call(world: World, intent: Intent, death?: Death): Promise<OpOutcome<MoneyResult>> {
  const desk = licenceDesk(world.deskDeps(), caller(world, intent.scope));
  return world.op(
    labelOf(intent),
    () => {
      const id = intent.licenceId ?? "";
      switch (intent.kind) {
        case "order":
          return desk.order(intent.body as OrderBody, intent.key);
        case "successor":
          return desk.successor(id, intent.body as SuccessorBody, intent.key);
        case "changeProduct":
          return desk.changeProduct(id, intent.body as ChangeProductBody, intent.key);
        default:
          return desk.renew(id, intent.body as RenewBody, intent.key);
      }
    },
    death,
  );
}

async function ask(sim: Sim, world: World, intent: Intent, death?: Death): Promise<Answer> {
  const answer = answerOf(await call(world, intent, death), intent.kind);
  recordAnswer(sim, intent, answer);
  if (answer.killedAt) await noteKill(sim, world, intent);
  return answer;
}

async function noteKill(sim: Sim, world: World, intent: Intent): Promise<void> {
  sim.stats.kills += 1;
  const record = await world.rawRegister.idempotency.find(intent.scope, intent.key);
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
    const kind = sim.byKey.get(key)?.kind;
    if (outcome !== "applied" || !CLIENT_SCOPES.includes(scope) || (kind !== "order" && kind !== "successor"))
      continue;
    const alert = `intent:${scope}:${key}|order_settled|settled`;
    if (!sim.expectedAlerts.some((e) => e.key === alert)) {
      sim.expectedAlerts.push({ key: alert, why: `the reconciler settled ${kind} ${key} as placed` });
      keys.push(alert);
    }
  }
  return keys;
}

async function afterCommand(sim: Sim, world: World): Promise<void> {
  sim.stats.commands += 1;
  await refreshLicences(sim, world);
  await checkMoney(sim, world);
  await checkSuccessions(sim, world);
  checkPlannedSuccessors(sim, world);
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
      await ask(sim, world, newIntent(sim, old.kind, old.body, old.licenceId, chain, old.scope));
    });
  toString = () => `new-key(#${this.pick})`;
}

// ---- successors and changes of product ----------------------------------------------------------

/**
 * `POST /licenses/{id}/successor`: an ISPmanager 6 licence on the IP and name of an ISPmanager 5 one.
 * `target`: `gen5` picks among the client's licences running ISPmanager 5 at the vendor (else any),
 * `any` among all it knows (a deleted one, an ISPmanager 6 one: refused, nothing sent). `product`:
 * the catalogue's successor (left out), another of the later line, or one of the same line (400).
 */
export interface SuccessorSpec {
  pick: number;
  target: "gen5" | "any";
  period: 1 | 12;
  /** Left out: the API's default (after_expiry). */
  retireOld: "after_expiry" | "now" | "never" | undefined;
  product: "default" | "ispmanager6-pro" | "ispmanager5-business";
  autoRenew: AutoRenew | undefined;
}

const showSuccessor = (s: SuccessorSpec) =>
  `#${s.pick}${s.target === "any" ? " of any" : ""}, ${s.period}m, retire ${s.retireOld ?? "(default)"}${s.product === "default" ? "" : `, ${s.product}`}${s.autoRenew === undefined ? "" : `, auto${s.autoRenew}`}`;

const generationOfPricelist = (world: World, pricelist: string) => {
  const product = world.catalogue.byPricelist(pricelist);
  return product && generationOf(product);
};

/** The client's licences the vendor still runs (not deleted), of one line or any. */
function liveLicences(sim: Sim, world: World, generation?: string): string[] {
  const known = new Set(sim.licences);
  return world
    .vendorBook()
    .filter(
      (l) =>
        l.status !== "4" &&
        known.has(l.id) &&
        (generation === undefined || generationOfPricelist(world, l.pricelist) === generation),
    )
    .map((l) => l.id);
}

function successorIntent(sim: Sim, world: World, spec: SuccessorSpec): Intent | undefined {
  const gen5 = spec.target === "gen5" ? liveLicences(sim, world, "ispmanager5") : [];
  const id = pickOf(gen5.length > 0 ? gen5 : sim.licences, spec.pick);
  if (id === undefined) return undefined;
  const raw = {
    period: spec.period,
    ...(spec.product !== "default" && { product: spec.product }),
    ...(spec.retireOld !== undefined && { retireOld: spec.retireOld }),
    ...(spec.autoRenew !== undefined && { autoRenew: spec.autoRenew }),
  };
  const parsed = validate(SuccessorBody, raw);
  if (!parsed.ok)
    throw new Error(`the simulation built an invalid successor: ${JSON.stringify(parsed.fields)}`);
  sim.stats.successorAsks += 1;
  return newIntent(sim, "successor", parsed.value, id);
}

/**
 * `POST /licenses/{id}/change-product`: another tariff of the licence's own line (`to` picks which), or
 * (`same`) its own (409 product_unchanged, nothing sent); nodes for a product with nodes, or left out.
 */
export interface ChangeSpec {
  pick: number;
  to: number;
  same: boolean;
  nodes: number | undefined;
}

const showChange = (c: ChangeSpec) =>
  `#${c.pick}, ${c.same ? "same product" : `to #${c.to}`}${c.nodes === undefined ? "" : `, n${c.nodes}`}`;

function changeIntent(sim: Sim, world: World, spec: ChangeSpec): Intent | undefined {
  const live = liveLicences(sim, world);
  const id = pickOf(live.length > 0 ? live : sim.licences, spec.pick);
  if (id === undefined) return undefined;
  // The licence's product as the vendor shows it now (the register may be a night behind).
  const licence = world.sandbox.state.get(id);
  const current = licence && world.catalogue.byPricelist(licence.pricelist);
  const line = current
    ? world.catalogue.products.filter((p) => generationOf(p) === generationOf(current))
    : world.catalogue.products.filter((p) => generationOf(p) === "ispmanager5");
  const others = line.filter((p) => p.id !== current?.id);
  const target = spec.same && current ? current : (pickOf(others, spec.to) ?? line[0]);
  const raw = {
    product: target?.id ?? "ispmanager5-business",
    ...(target?.nodes && spec.nodes !== undefined && { nodes: spec.nodes }),
  };
  const parsed = validate(ChangeProductBody, raw);
  if (!parsed.ok) throw new Error(`the simulation built an invalid change: ${JSON.stringify(parsed.fields)}`);
  sim.stats.productChangeAsks += 1;
  return newIntent(sim, "changeProduct", parsed.value, id);
}

class SuccessorCommand implements Cmd {
  constructor(readonly spec: SuccessorSpec) {}
  check = (sim: Readonly<Sim>) => sim.licences.length > 0;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      const intent = successorIntent(sim, world, this.spec);
      if (intent) await ask(sim, world, intent);
    });
  toString = () => `successor(${showSuccessor(this.spec)})`;
}

class ChangeProductCommand implements Cmd {
  constructor(readonly spec: ChangeSpec) {}
  check = (sim: Readonly<Sim>) => sim.licences.length > 0;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      const intent = changeIntent(sim, world, this.spec);
      if (intent) await ask(sim, world, intent);
    });
  toString = () => `change-product(${showChange(this.spec)})`;
}

/**
 * `PATCH /licenses/{id}` with `successor`: a successor planned for the watcher to order on a night, or
 * (`drop`) none. `target` as for a successor; `on` in days from the desk's today, so the simulation's
 * nights (1 to 3 days apart) reach it: 0 (tonight's, or the first night after), a few days on, -1 a
 * past night (400 naming `successor.on`, nothing stored), left out (14 days before the licence stops
 * working: at once for a licence renewed by hand near its expiry, in December for one the watcher
 * renews). `product` as for a successor (`ispmanager5-business`: 400 naming `successor.product`).
 */
export interface PlanSpec {
  pick: number;
  target: "gen5" | "any";
  drop: boolean;
  period: 1 | 12;
  product: "default" | "ispmanager6-pro" | "ispmanager5-business";
  on: number | undefined;
  retireOld: "after_expiry" | "now" | "never" | undefined;
}

const showPlan = (p: PlanSpec) =>
  `#${p.pick}${p.target === "any" ? " of any" : ""}, ${
    p.drop
      ? "none"
      : `${p.period}m, on ${p.on === undefined ? "(default)" : `today${p.on < 0 ? p.on : `+${p.on}`}`}, retire ${p.retireOld ?? "(default)"}${p.product === "default" ? "" : `, ${p.product}`}`
  }`;

/** Who plans: its calls (none is allowed) are counted at the vendor by this label. */
const PLAN_LABEL = "api-plan";

class PlanSuccessorCommand implements Cmd {
  constructor(readonly spec: PlanSpec) {}
  check = (sim: Readonly<Sim>) => sim.licences.length > 0;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      const spec = this.spec;
      // `gen5`: one with no successor yet where there is one (a plan for it is stored, and its night can come).
      const gen5 = spec.target === "gen5" ? liveLicences(sim, world, "ispmanager5") : [];
      const register = await allLicences(world.rawRegister.licences);
      const fresh = gen5.filter((id) => register.get(id)?.successorId === undefined);
      const id = pickOf(fresh.length > 0 ? fresh : gen5.length > 0 ? gen5 : sim.licences, spec.pick);
      if (id === undefined) return;
      sim.stats.successorPlanAsks += 1;
      // The desk's today, as the request's caller gives it (the vendor's clock: the last night's date).
      const today = toIsoDate(world.sandbox.state.now());
      const on = spec.on === undefined ? undefined : addDays(today, spec.on);
      const raw = spec.drop
        ? null
        : {
            period: spec.period,
            ...(spec.product !== "default" && { product: spec.product }),
            ...(on !== undefined && { on }),
            ...(spec.retireOld !== undefined && { retireOld: spec.retireOld }),
          };
      const parsed = validate(UpdateBody, { successor: raw });
      if (!parsed.ok)
        throw new Error(`the simulation built an invalid plan: ${JSON.stringify(parsed.fields)}`);
      const successor = parsed.value.successor ?? null;
      const before = await world.rawRegister.licences.get(id);
      const heir = before?.successorId ? await world.rawRegister.licences.get(before.successorId) : undefined;
      const sentBefore = world.sandbox.calls.filter((c) => c.params.sim_label === PLAN_LABEL).length;
      const desk = licenceDesk(world.deskDeps(), caller(world));
      const outcome = await world.op(PLAN_LABEL, () => desk.update(id, { successor }));
      const sent = world.sandbox.calls.filter((c) => c.params.sim_label === PLAN_LABEL).length - sentBefore;
      if (sent > 0)
        throw new Violation(`planning a successor of licence ${id} sent ${sent} calls to the vendor`);
      const after = await world.rawRegister.licences.get(id);
      if (outcome.kind !== "ok") {
        const reply = errorReply(outcome.kind === "error" ? outcome.error : undefined);
        const code = reply.body.error.code;
        const fields = Object.keys((reply.body.error.details.fields as Record<string, string>) ?? {});
        sim.log.push(
          `    plan of ${id}: ${reply.statusCode} ${code}${fields.length > 0 ? ` (${fields.join(", ")})` : ""}`,
        );
        const why =
          code === "licence_deleted"
            ? before && !isLive(before)
            : code === "successor_exists"
              ? heir !== undefined && isLive(heir)
              : reply.statusCode === 400 && fields.includes("successor.on")
                ? on !== undefined && on < today
                : reply.statusCode === 400 && fields.includes("successor.product")
                  ? spec.product === "ispmanager5-business" ||
                    (before !== undefined && generationOfPricelist(world, before.pricelist) !== "ispmanager5")
                  : false;
        if (!why)
          throw new Violation(
            `planning ${JSON.stringify(successor)} for licence ${id} (${before?.status}, successor ${heir?.id ?? "none"} ${heir?.status ?? ""}) was refused ${reply.statusCode} ${code} ${fields.join(", ")}: ${JSON.stringify(reply.body).slice(0, 300)}`,
          );
        if (!isDeepStrictEqual(after?.successorPlan, before?.successorPlan))
          throw new Violation(
            `planning a successor of licence ${id} was refused (${code}), but its plan changed from ${JSON.stringify(before?.successorPlan)} to ${JSON.stringify(after?.successorPlan)}`,
          );
        return;
      }
      // Stored only for a live licence with no live successor, of a later line, not for a past night.
      if (successor !== null) {
        const wrong =
          (before && !isLive(before) && "the licence is deleted") ||
          (heir && isLive(heir) && `it has a live successor, ${heir.id}`) ||
          (on !== undefined && on < today && `${on} is before today (${today})`) ||
          (spec.product === "ispmanager5-business" && "its product is of the same line");
        if (wrong)
          throw new Violation(
            `a successor of licence ${id} was planned (${JSON.stringify(successor)}), though ${wrong}`,
          );
      }
      const plan: PlanEntry["plan"] = successor && {
        period: successor.period,
        ...(successor.product !== undefined && { product: successor.product }),
        ...(successor.on !== undefined && { on: successor.on }),
        retireOld: successor.retireOld,
      };
      if (!isDeepStrictEqual(after?.successorPlan, plan))
        throw new Violation(
          `licence ${id} was planned ${JSON.stringify(plan)}, and the register shows ${JSON.stringify(after?.successorPlan)}`,
        );
      sim.plans.push({ licenceId: id, plan, wallMs: world.nowMs() });
      if (plan) sim.stats.successorPlans += 1;
      sim.log.push(`    plan of ${id}: ${plan ? `stored, on ${plan.on ?? "(default)"}` : "dropped"}`);
    });
  toString = () => `plan-successor(${showPlan(this.spec)})`;
}

/**
 * A successor stops running before its predecessor is retired: suspended through the desk, or (with
 * the panel) in the vendor's panel; a night due to retire the predecessor must keep it (retire_held).
 */
class SuspendSuccessorCommand implements Cmd {
  constructor(
    readonly pick: number,
    readonly via: "desk" | "panel",
  ) {}
  check = () => true;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      const successors = [...(await allLicences(world.rawRegister.licences)).values()]
        .filter((r) => r.predecessorId !== undefined && r.status === "active")
        .map((r) => r.id)
        .sort();
      const id = pickOf(successors, this.pick);
      if (id === undefined) {
        sim.log.push("    (no running successor to suspend)");
        return;
      }
      if (this.via === "panel") {
        const entry = world.panel({ what: "suspend", id });
        sim.stats.panelActions += 1;
        sim.log.push(`    panel: suspend successor ${id}: ${entry.said}`);
        return;
      }
      const desk = licenceDesk(world.deskDeps(), caller(world));
      const outcome = await world.op("api-admin", () => desk.suspend(id));
      const said = outcome.kind === "ok" ? "ok" : String((outcome as { error?: Error }).error?.message);
      sim.log.push(`    suspend successor ${id}: ${said.slice(0, 120)}`);
    });
  toString = () => `suspend-successor(#${this.pick}${this.via === "panel" ? ", in the panel" : ""})`;
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

/** The money call a fault hits: an order (a successor's too), a renewal, a change of product. */
type FaultTarget = "order" | "renew" | "change";
const FAULT_FUNC: Record<FaultTarget, string> = {
  order: "soft.order.param",
  renew: "service.prolong",
  change: "service.changepricelist",
};

class FaultCommand implements Cmd {
  constructor(
    readonly kind: FaultChoice,
    readonly target: FaultTarget,
    readonly delayMs: number,
  ) {}
  check = () => true;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      sim.stats.faults += 1;
      const func = FAULT_FUNC[this.target];
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
  | { op: "successor"; spec: SuccessorSpec }
  | { op: "change"; spec: ChangeSpec }
  | { op: "reconcile" }
  | { op: "night"; days: number };

class KillCommand implements Cmd {
  constructor(
    readonly target: KillTarget,
    readonly at: number | string,
    readonly mode: Death["mode"],
  ) {}
  check = (sim: Readonly<Sim>) => {
    if (this.target.op === "renew" || this.target.op === "successor" || this.target.op === "change")
      return sim.licences.length > 0;
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
        case "successor":
        case "change": {
          const intent =
            target.op === "successor"
              ? successorIntent(sim, world, target.spec)
              : changeIntent(sim, world, target.spec);
          if (intent) await ask(sim, world, intent, death);
          break;
        }
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
            : t.op === "successor"
              ? `successor(${showSuccessor(t.spec)})`
              : t.op === "change"
                ? `change-product(${showChange(t.spec)})`
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
  /** A successor; `twin-successor`: two, each with its own key, for the same licence at once. */
  | { op: "successor" | "twin-successor"; spec: SuccessorSpec }
  | { op: "change"; spec: ChangeSpec }
  | { op: "reconcile" }
  /** The reseller in the vendor's panel, `delayMs` after the others started. */
  | { op: "panel"; choice: PanelChoice; delayMs: number };

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
          case "successor":
          case "twin-successor": {
            const intent = successorIntent(sim, world, op.spec);
            if (!intent) break;
            calls.push({ intent, outcome: call(world, intent) });
            if (op.op === "twin-successor") {
              sim.stats.successorAsks += 1;
              const twin = newIntent(sim, "successor", intent.body, intent.licenceId);
              calls.push({ intent: twin, outcome: call(world, twin) });
            }
            break;
          }
          case "change": {
            const intent = changeIntent(sim, world, op.spec);
            if (intent) calls.push({ intent, outcome: call(world, intent) });
            break;
          }
          case "reconcile":
            passes.push(world.op("reconciler", () => world.reconcilePass(world.sandbox.state.now())));
            break;
          case "panel":
            passes.push(
              new Promise((resolve) => setTimeout(resolve, op.delayMs)).then(() =>
                actInPanel(sim, world, op.choice),
              ),
            );
            break;
        }
      }
      const outcomes = await Promise.all(calls.map((c) => c.outcome));
      await Promise.all(passes);
      // Final answers first, so a concurrent "in progress" is not taken for a change of mind.
      const answers = outcomes.map((o, i) => ({
        intent: (calls[i] as (typeof calls)[number]).intent,
        answer: answerOf(o, (calls[i] as (typeof calls)[number]).intent.kind),
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
              : op.op === "successor" || op.op === "twin-successor"
                ? `${op.op}(${showSuccessor(op.spec)})`
                : op.op === "change"
                  ? `change-product(${showChange(op.spec)})`
                  : op.op === "panel"
                    ? `${showPanel(op.choice)} after ${op.delayMs} ms`
                    : "reconcile",
      )
      .join(", ")}]`;
}

// ---- beside the desk: the vendor's panel, a second key, the reconciler's race -------------------

/**
 * What the reseller does in the vendor's own panel. Renew, suspend or delete a licence (`pending`: one a
 * desk renewal awaits the outcome of, for the same period, when there is one); order a licence on the
 * IP of one of the client's orders (with that order's name and product, or a name of its own), on the
 * IP of a licence deleted at the vendor, or on a fresh IP.
 */
export type PanelChoice =
  | { what: "renew"; pick: number; target: "pending" | "any"; period: 1 | 12 }
  | { what: "suspend" | "delete"; pick: number; target: "pending" | "any" }
  | { what: "order"; pick: number; target: "order-ip" | "deleted-ip" | "fresh"; name: "same" | "own" };

const showPanel = (c: PanelChoice) =>
  c.what === "order"
    ? `panel order(${c.target}, ${c.name} name, #${c.pick})`
    : `panel ${c.what}(${c.target} #${c.pick}${c.what === "renew" ? `, ${c.period}m` : ""})`;

/** The choice made concrete against the world as it is now; undefined when it has nothing to act on. */
function panelAction(sim: Sim, world: World, c: PanelChoice): PanelAction | undefined {
  const book = world.vendorBook();
  const live = book.filter((l) => l.status !== "4");
  if (c.what === "order") {
    const n = world.panelLog.length + 1;
    const lite = world.catalogue.byId("ispmanager5-lite")?.pricelist ?? "3541";
    if (c.target === "order-ip") {
      const order = pickOf(
        sim.intents.filter((i) => i.kind === "order"),
        c.pick,
      );
      if (!order) return undefined;
      const body = order.body as OrderBody;
      return {
        what: "order",
        ip: body.ip,
        name: c.name === "same" ? body.name : `panel-${n}`,
        pricelist: world.catalogue.byId(body.product)?.pricelist ?? lite,
        period: 1,
      };
    }
    const deleted = pickOf(
      book.filter((l) => l.status === "4"),
      c.pick,
    );
    const ip = c.target === "deleted-ip" && deleted ? deleted.ip : `10.250.${n >> 8}.${n & 255}`;
    return { what: "order", ip, name: `panel-${n}`, pricelist: lite, period: 1 };
  }
  const pending = pickOf(
    retryable(sim).filter((i) => i.kind === "renew"),
    c.pick,
  );
  const id = c.target === "pending" && pending?.licenceId ? pending.licenceId : pickOf(live, c.pick)?.id;
  if (id === undefined) return undefined;
  if (c.what === "renew") {
    const period = c.target === "pending" && pending ? (pending.body as RenewBody).period : c.period;
    return { what: "renew", id, period };
  }
  return { what: c.what, id };
}

function actInPanel(sim: Sim, world: World, choice: PanelChoice): PanelEntry | undefined {
  const action = panelAction(sim, world, choice);
  if (!action) {
    sim.log.push("    (nothing in the panel to act on)");
    return undefined;
  }
  const entry = world.panel(action);
  sim.stats.panelActions += 1;
  const what =
    action.what === "order"
      ? `order ${action.name} on ${action.ip} (pricelist ${action.pricelist})`
      : `${action.what} ${action.id}${action.what === "renew" ? ` for ${action.period} months` : ""}`;
  sim.log.push(`    panel: ${what}: ${entry.said}`);
  return entry;
}

class PanelCommand implements Cmd {
  constructor(readonly choice: PanelChoice) {}
  check = () => true;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      actInPanel(sim, world, this.choice);
    });
  toString = () => showPanel(this.choice);
}

/**
 * A reconciler pass lists the unresolved intents while a money call is in flight, and reaches that
 * intent only after the call was refused (nothing charged, the key freed): the client's call is held
 * before it leaves (the intent is marked sent, so listed) until the pass has come to the intent, and
 * the pass is held there until the client has its answer. The refusal: `funds` (the vendor refuses for
 * insufficient funds after holding the call a little; the reseller tops up right after the answer) or
 * `throttle` (429 at the door: provably never sent).
 */
class ReconcileRaceCommand implements Cmd {
  constructor(
    readonly op: { kind: "order"; spec: OrderSpec } | { kind: "renew"; pick: number; period: 1 | 12 },
    readonly refusal: "funds" | "throttle",
  ) {}
  check = (sim: Readonly<Sim>) => this.op.kind === "order" || sim.licences.length > 0;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      sim.stats.reconcileRaces += 1;
      const op = this.op;
      const intent =
        op.kind === "order"
          ? newIntent(sim, "order", orderBody(sim, op.spec), undefined)
          : newIntent(sim, "renew", { period: op.period }, pickOf(sim.licences, op.pick) as string);
      const state = world.sandbox.state;
      const balance = state.balanceMinor;
      const func = op.kind === "order" ? "soft.order.param" : "service.prolong";
      if (this.refusal === "funds") {
        state.setBalance(0);
        world.fault(func, "slow", 60);
      } else world.fault(func, "throttle", 0);
      let answered: () => void = () => {};
      const done = new Promise<void>((resolve) => {
        answered = resolve;
      });
      // The race is over once the client has its answer and the pass is done: no hold outlives it.
      const over = new AbortController();
      // The pass reaches an intent it listed when it reads its record again (settled as recorded, never claimed).
      const reached = world.hold(
        "idempotency.find",
        (label, args) => label === "reconciler" && args[0] === intent.scope && args[1] === intent.key,
        done,
        { signal: over.signal },
      );
      const leaving = world.hold(
        `billing.${op.kind === "order" ? "order" : "prolong"}`,
        (label) => label === labelOf(intent),
        reached,
        { signal: over.signal },
      );
      const from = world.journal.length;
      const attempt = call(world, intent).finally(() => {
        state.setBalance(balance);
        answered();
      });
      try {
        // Refused before it was sent (in flight, closed...): nothing to race.
        const sent = await Promise.race([leaving, attempt.then(() => undefined)]);
        const pass = sent
          ? world.op("reconciler", () => world.reconcilePass(state.now()))
          : Promise.resolve(undefined);
        const answer = answerOf(await attempt, intent.kind);
        const passOutcome = await pass;
        over.abort();
        recordAnswer(sim, intent, answer);
        const came = await reached;
        sim.log.push(
          `    ${sent ? "" : "(its call never left: nothing to race) "}the reconciler pass ${
            came ? "reached it after its answer" : "never reached it"
          }: ${passOutcome?.kind === "ok" ? `settled ${passOutcome.value.settled.map((x) => `${x.key}=${x.outcome}`).join(", ") || "nothing"}` : (passOutcome?.kind ?? "not run")}`,
        );
        expectSettledAlerts(sim, world, from);
      } finally {
        over.abort();
        state.setBalance(balance);
      }
    });
  toString = () =>
    `reconcile-race(${this.op.kind === "order" ? `order(${showSpec(this.op.spec)})` : `renew(#${this.op.pick}, ${this.op.period}m)`}, refused: ${this.refusal})`;
}

/**
 * A second key orders an IP another key ordered: the same client with a new key (a new purchase, not
 * a retry) or another client; with the same name or its own. `concurrent`: both sent at once;
 * `crossed`: both at once, the first's call held until the second has its answer (so the second, the
 * younger intent, reaches the vendor first);
 * `after`: after an earlier order of that IP (often one whose answer was lost); `after-race`: after it,
 * once its settle window has passed, while a reconciler pass decides it, the second order held right
 * after its answer (before it claims its new licence's id) until that pass is over.
 */
class SameIpOrderCommand implements Cmd {
  constructor(
    readonly pick: number,
    readonly who: "same-client" | "other-client",
    readonly how: "concurrent" | "crossed" | "after" | "after-race",
    readonly name: "same" | "own",
    readonly spec: OrderSpec,
  ) {}
  check = () => true;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      sim.stats.sameIpOrders += 1;
      const orders = sim.intents.filter((i) => i.kind === "order");
      const awaiting = orders.filter((i) => i.next === "retry");
      const earlier =
        this.how === "concurrent" ? undefined : (pickOf(awaiting, this.pick) ?? pickOf(orders, this.pick));
      const scope = this.who === "same-client" ? API_SCOPE : OTHER_SCOPE;
      const first = earlier ?? newIntent(sim, "order", orderBody(sim, this.spec), undefined);
      const body = first.body as OrderBody;
      const second = newIntent(
        sim,
        "order",
        { ...body, ...(this.name === "own" && { name: `${body.name} (${scope})` }) },
        undefined,
        undefined,
        scope,
      );
      if (!earlier) {
        if (this.how !== "concurrent" && this.how !== "crossed")
          sim.log.push("    (no earlier order of any IP: both at once)");
        // Crossed: the first's call is held before it leaves until the second has its answer.
        let secondAnswered: () => void = () => {};
        const answered = new Promise<void>((resolve) => {
          secondAnswered = resolve;
        });
        const over = new AbortController();
        if (this.how === "crossed")
          void world.hold("billing.order", (label) => label === labelOf(first), answered, {
            signal: over.signal,
          });
        const outcomes = await Promise.all([
          call(world, first),
          call(world, second).finally(() => secondAnswered()),
        ]);
        over.abort();
        recordAnswer(sim, first, answerOf(outcomes[0], first.kind), true);
        recordAnswer(sim, second, answerOf(outcomes[1], second.kind), true);
        return;
      }
      if (this.how === "after") {
        await ask(sim, world, second);
        return;
      }
      await waitForSettle(world);
      let over: () => void = () => {};
      const passOver = new Promise<void>((resolve) => {
        over = resolve;
      });
      const done = new AbortController();
      const placed = world.hold(
        "idempotency.claimLicenceId",
        (label) => label === labelOf(second),
        passOver,
        { signal: done.signal },
      );
      const from = world.journal.length;
      const attempt = call(world, second);
      // Refused (the IP taken, in flight…): it claims nothing, so there is nothing to race.
      const held = await Promise.race([placed, attempt.then(() => undefined)]);
      done.abort();
      if (held) {
        await world.op("reconciler", () => world.reconcilePass(world.sandbox.state.now()));
        expectSettledAlerts(sim, world, from);
      }
      over();
      recordAnswer(sim, second, answerOf(await attempt, second.kind));
      sim.log.push(
        `    ${held ? "a reconciler pass ran while the second order was held before claiming its licence" : "(the second order placed nothing: no race)"}`,
      );
    });
  toString = () =>
    `same-ip-order(${this.how === "concurrent" || this.how === "crossed" ? showSpec(this.spec) : `after #${this.pick}`}, ${this.who}, ${this.how}, ${this.name} name)`;
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
  /**
   * A change through the desk (autoRenew, suspend), or one in the vendor's panel: renew, suspend or
   * delete the licence the watcher is about to renew (its renewal held after its plan, before it is
   * sent, while the panel acts; `pick` and `after` do not apply).
   */
  what: "autoRenew" | "suspend" | "panel-renew" | "panel-suspend" | "panel-delete";
  pick: number;
  autoRenew: AutoRenew;
  /**
   * Counted from the night's start, from its first renewal reaching the vendor, or (scenarios only)
   * from the night's first write of this licence (held 200 ms so the change lands before it), or from
   * the night's first read of this licence's form reaching the vendor.
   */
  delayMs: number;
  after: "start" | "prolong" | "sync-write" | "form-read" | "renewal-claim";
}

const isPanelChange = (change: NightChange) => change.what.startsWith("panel-");

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
  /** Every lease a dead process took has run out (the finale): retirements owed are judged even so. */
  afterLeases = false,
  /** The time the run has left (ms, nothing kept in reserve); unbounded when not given. */
  budgetMs?: number,
): Promise<{ formsThrottled: boolean }> {
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
  const callsBefore = world.sandbox.calls.length;
  sim.night = date;
  sim.stats.nights += copies;
  if (copies > 1) sim.stats.concurrentNights += 1;
  const from = world.journal.length;
  // On the world's clock, as the leases and the panel's actions the checks compare it with.
  const started = world.nowMs();
  // Suspended through the desk as the night begins (marked ours, and suspended at the vendor): no
  // successor of theirs is ordered tonight (checkPlannedSuccessors).
  const deskSuspended = new Set(
    [...before.values()]
      .filter((r) => r.suspendedBy === "desk" && vendorBefore.get(r.id) === "3")
      .map((r) => r.id),
  );
  world.nightRuns.push({ night: date, startedMs: started, deskSuspended });
  const over = new AbortController();
  const change = during && changeDuring(sim, world, during, over.signal);
  const outcomes = await Promise.all(
    Array.from({ length: copies }, () =>
      world.op(`watcher:${date}`, () => world.night(date, at, budgetMs), death),
    ),
  );
  over.abort();
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
  let formsThrottled = false;
  for (const outcome of outcomes) {
    if (outcome.kind === "killed") {
      sim.stats.kills += 1;
      sim.stats.killedNights += 1;
      sim.owedRerun = date;
      sim.log.push(`    night ${date}: killed at ${outcome.point}`);
      return { formsThrottled: false };
    }
    if (outcome.kind === "error")
      throw new Violation(`a healthy night ${date} failed: ${String(outcome.error)}`);
    const r = outcome.value;
    formsThrottled ||= r.forms.throttled === true;
    sim.stats.retireHeld += r.retireHeld.length;
    sim.log.push(
      `    night ${date}: renewed ${r.renewed.map((x) => x.id).join(",") || "-"}; elsewhere ${r.renewedElsewhere.map((x) => x.id).join(",") || "-"}; failed ${r.failed.map((x) => x.id).join(",") || "-"}; unknown ${r.unknown.map((x) => x.id).join(",") || "-"}; busy ${r.busy.join(",") || "-"}; retired ${r.retired.map((x) => `${x.id}->${x.successorId}`).join(",") || "-"}; retirement held ${r.retireHeld.map((x) => x.id).join(",") || "-"}; planned successors ordered ${r.successorsOrdered.map((x) => `${x.id}->${x.successorId}`).join(",") || "-"}, awaiting ${r.successorsAwaiting.map((x) => x.id).join(",") || "-"}, failed ${r.successorsFailed.map((x) => x.id).join(",") || "-"}; mails ${r.sent.length}`,
    );
  }
  sim.owedRerun = undefined;
  await waitForLateActs(world);
  checkWatcherAgainstPanel(world);
  if (changed && !isPanelChange(changed.change)) await checkChangeKept(world, changed, date, vendorBefore);
  await checkAlertsDelivered(sim, world, date, started);
  // A licence the reseller changed during the night may have been told before or after the change.
  await checkLapsesTold(sim, world, date, started, changed ? new Set([changed.id]) : new Set());
  await checkConverged(sim, world, date, started);
  await checkRetirementsDone(
    sim,
    world,
    date,
    { wallMs: started, calls: callsBefore, vendor: vendorBefore },
    afterLeases,
  );
  return { formsThrottled };
}

/**
 * The reseller acts in the vendor's panel on the licence the watcher is about to renew: the watcher's
 * first renewal of the night is held at its claim (after the plan, before anything is sent) while the
 * panel renews, suspends or deletes that licence.
 */
async function panelDuringRenewal(
  sim: Sim,
  world: World,
  change: NightChange,
  nightOver: AbortSignal,
): Promise<{ id: string; change: NightChange } | undefined> {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const held = await world.hold(
    "idempotency.claim",
    (label, args) =>
      label.startsWith("watcher:") && String((args[0] as { key?: string }).key).startsWith("watch:"),
    released,
    { signal: nightOver },
  );
  if (!held) {
    sim.log.push(`    (the night renewed nothing: no ${change.what} during it)`);
    return undefined;
  }
  const [, id = "", night = ""] = String((held.args[0] as { key: string }).key).split(":");
  try {
    const what = change.what.slice("panel-".length) as "renew" | "suspend" | "delete";
    const action: PanelAction = what === "renew" ? { what, id, period: 1 } : { what, id };
    const entry = world.panel(action, { night, licenceId: id });
    sim.stats.panelActions += 1;
    sim.log.push(`    as the watcher is about to renew ${id}, the panel: ${what} ${id}: ${entry.said}`);
  } finally {
    release();
  }
  return { id, change };
}

async function changeDuring(
  sim: Sim,
  world: World,
  change: NightChange,
  nightOver: AbortSignal,
): Promise<{ id: string; change: NightChange } | undefined> {
  if (isPanelChange(change)) return panelDuringRenewal(sim, world, change, nightOver);
  // Real time: the change is sequenced against the night running meanwhile (the clock is not moved).
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const id = pickOf(sim.licences, change.pick) as string;
  if (change.after === "prolong") {
    const seen = world.sandbox.callCount("service.prolong");
    const until = Date.now() + 3000;
    // Not past the night's end: a night that renews nothing gets the change right after it.
    while (world.sandbox.callCount("service.prolong") === seen && Date.now() < until && !nightOver.aborted)
      await sleep(2);
  }
  if (change.after === "form-read") {
    const reads = () =>
      world.sandbox.calls.filter(
        (c) => c.func === "soft.edit" && c.params.elid === id && c.params.sim_label?.startsWith("watcher:"),
      ).length;
    const seen = reads();
    const until = Date.now() + 3000;
    while (reads() === seen && Date.now() < until && !nightOver.aborted) await sleep(2);
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
    /** `short`: the next night, run with no time left for the forms (they are the next runs'). */
    readonly variant: "next" | "rerun" | "pair" | "short",
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
        false,
        this.variant === "short" ? 0 : undefined,
      );
    });
  toString = () => {
    const d = this.during;
    const change = !d
      ? ""
      : isPanelChange(d)
        ? `, ${d.what} of the licence it is about to renew`
        : `, ${d.what}(#${d.pick}${d.what === "autoRenew" ? `, ${d.autoRenew}` : ""}) ${d.delayMs} ms after ${
            {
              start: "it starts",
              prolong: "its first renewal",
              "sync-write": "its first write of it",
              "form-read": "its first read of its form",
              "renewal-claim": "its first renewal's claim",
            }[d.after]
          }`;
    return this.variant === "rerun"
      ? `night(rerun${change})`
      : `night(+${this.days}d${this.variant === "pair" ? ", two copies" : this.variant === "short" ? ", no time for forms" : ""}${change})`;
  };
}

// ---- the arbitrary ----------------------------------------------------------------------------

const pick = fc.nat({ max: 20 });
const period = fc.constantFrom(1, 1, 1, 12) as fc.Arbitrary<1 | 12>;
const successorSpec: fc.Arbitrary<SuccessorSpec> = fc.record({
  pick,
  target: fc.constantFrom("gen5", "gen5", "gen5", "any") as fc.Arbitrary<"gen5" | "any">,
  period,
  retireOld: fc.constantFrom("after_expiry", "now", "now", "never", undefined) as fc.Arbitrary<
    SuccessorSpec["retireOld"]
  >,
  product: fc.constantFrom(
    "default",
    "default",
    "default",
    "default",
    "ispmanager6-pro",
    "ispmanager5-business",
  ) as fc.Arbitrary<SuccessorSpec["product"]>,
  autoRenew: fc.constantFrom(undefined, undefined, null, 1) as fc.Arbitrary<AutoRenew | undefined>,
});
const planSpec: fc.Arbitrary<PlanSpec> = fc.record({
  pick,
  target: fc.constantFrom("gen5", "gen5", "gen5", "any") as fc.Arbitrary<"gen5" | "any">,
  drop: fc.constantFrom(false, false, false, false, false, true),
  period,
  product: fc.constantFrom(
    "default",
    "default",
    "default",
    "default",
    "ispmanager6-pro",
    "ispmanager5-business",
  ) as fc.Arbitrary<PlanSpec["product"]>,
  // Nights move 1 to 3 days: today and the next few are reached, a week on seldom, the default rarely.
  // Today's night is reached by the next night, or by the last one's rerun that ends every run.
  on: fc.constantFrom(0, 0, 0, 1, 1, 2, 3, 7, -1, undefined),
  retireOld: fc.constantFrom("after_expiry", "now", "never", undefined) as fc.Arbitrary<
    PlanSpec["retireOld"]
  >,
});
const changeSpec: fc.Arbitrary<ChangeSpec> = fc.record({
  pick,
  to: pick,
  same: fc.constantFrom(false, false, false, false, false, true),
  nodes: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
});
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

const panelChoice: fc.Arbitrary<PanelChoice> = fc.oneof(
  {
    arbitrary: fc.record({
      what: fc.constant("renew" as const),
      pick,
      target: fc.constantFrom("pending", "any") as fc.Arbitrary<"pending" | "any">,
      period,
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      what: fc.constant("suspend" as const),
      pick,
      target: fc.constantFrom("pending", "any") as fc.Arbitrary<"pending" | "any">,
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      what: fc.constant("delete" as const),
      pick,
      target: fc.constantFrom("pending", "any") as fc.Arbitrary<"pending" | "any">,
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      what: fc.constant("order" as const),
      pick,
      target: fc.constantFrom("order-ip", "order-ip", "deleted-ip", "fresh") as fc.Arbitrary<
        "order-ip" | "deleted-ip" | "fresh"
      >,
      name: fc.constantFrom("same", "own") as fc.Arbitrary<"same" | "own">,
    }),
    weight: 3,
  },
);

export interface ArbitraryOptions {
  nights: boolean;
  /**
   * The world beside the desk: the reseller in the vendor's panel (renew, suspend, delete,
   * order; between steps, while calls are in flight, while the watcher holds a renewal), a second key or
   * client ordering the same IP, and a reconciler pass racing a refused call. Off in `npm test` until
   * the product handles them (`npm run simulate -- --panel`, or SIM_PANEL=1).
   */
  panel?: boolean;
}

export function commandArbitrary(options: ArbitraryOptions): fc.Arbitrary<Cmd> {
  const concurrentOp: fc.Arbitrary<Concurrent> = fc.oneof(
    orderSpec.map((spec) => ({ op: "order" as const, spec })),
    orderSpec.map((spec) => ({ op: "twin-order" as const, spec })),
    fc.record({ op: fc.constant("renew" as const), pick, period }),
    fc.record({ op: fc.constant("retry" as const), pick }),
    fc.record({
      op: fc.constantFrom("successor", "twin-successor") as fc.Arbitrary<"successor" | "twin-successor">,
      spec: successorSpec,
    }),
    changeSpec.map((spec) => ({ op: "change" as const, spec })),
    fc.constant({ op: "reconcile" as const }),
    ...(options.panel
      ? [
          fc.record({
            op: fc.constant("panel" as const),
            choice: panelChoice,
            delayMs: fc.integer({ min: 0, max: 150 }),
          }),
        ]
      : []),
  );
  const killTarget: fc.Arbitrary<KillTarget> = fc.oneof(
    orderSpec.map((spec) => ({ op: "order" as const, spec })),
    fc.record({ op: fc.constant("renew" as const), pick, period }),
    fc.record({ op: fc.constant("retry" as const), pick }),
    successorSpec.map((spec) => ({ op: "successor" as const, spec })),
    changeSpec.map((spec) => ({ op: "change" as const, spec })),
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
    { arbitrary: successorSpec.map((s) => new SuccessorCommand(s)), weight: 3 },
    // Planned for a night: only worth it where nights run.
    ...(options.nights ? [{ arbitrary: planSpec.map((p) => new PlanSuccessorCommand(p)), weight: 4 }] : []),
    { arbitrary: changeSpec.map((c) => new ChangeProductCommand(c)), weight: 3 },
    {
      arbitrary: fc
        .tuple(pick, options.panel ? fc.constantFrom("desk", "panel") : fc.constant("desk"))
        .map(([p, via]) => new SuspendSuccessorCommand(p, via as "desk" | "panel")),
      weight: 1,
    },
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
          fc.constantFrom("order", "renew", "renew", "order", "change") as fc.Arbitrary<FaultTarget>,
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
  if (options.panel) {
    arbitraries.push(
      { arbitrary: panelChoice.map((c) => new PanelCommand(c)), weight: 4 },
      {
        arbitrary: fc
          .tuple(
            fc.oneof(
              orderSpec.map((spec) => ({ kind: "order" as const, spec })),
              fc.record({ kind: fc.constant("renew" as const), pick, period }),
            ),
            fc.constantFrom("funds", "throttle") as fc.Arbitrary<"funds" | "throttle">,
          )
          .map(([op, refusal]) => new ReconcileRaceCommand(op, refusal)),
        weight: 2,
      },
      {
        arbitrary: fc
          .tuple(
            pick,
            fc.constantFrom("same-client", "other-client") as fc.Arbitrary<"same-client" | "other-client">,
            fc.constantFrom("concurrent", "crossed", "after", "after-race") as fc.Arbitrary<
              "concurrent" | "crossed" | "after" | "after-race"
            >,
            fc.constantFrom("same", "own") as fc.Arbitrary<"same" | "own">,
            orderSpec,
          )
          .map(([p, who, how, name, spec]) => new SameIpOrderCommand(p, who, how, name, spec)),
        weight: 3,
      },
    );
  }
  if (options.nights) {
    arbitraries.push({
      arbitrary: fc
        .tuple(
          fc.constantFrom("next", "next", "rerun", "pair", "short") as fc.Arbitrary<
            "next" | "rerun" | "pair" | "short"
          >,
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
            ...(options.panel
              ? [
                  {
                    arbitrary: fc.record({
                      what: fc.constantFrom("panel-renew", "panel-suspend", "panel-delete") as fc.Arbitrary<
                        "panel-renew" | "panel-suspend" | "panel-delete"
                      >,
                      pick: fc.constant(0),
                      autoRenew: fc.constant(null),
                      delayMs: fc.constant(0),
                      after: fc.constant("renewal-claim" as const),
                    }),
                    weight: 1,
                  },
                ]
              : []),
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
        const record = await world.rawRegister.idempotency.find(intent.scope, intent.key);
        const answer = await ask(sim, world, intent);
        if (record?.status === "completed" && !isFinal(answer)) {
          throw new Violation(
            `${intent.key} is completed in the register (${record.outcome}) but a retry with its key answered ${answer.status} ${answer.code}`,
          );
        }
      }
      for (const old of newKeyable(sim)) {
        old.next = "stop";
        await ask(
          sim,
          world,
          newIntent(sim, old.kind, old.body, old.licenceId, sim.chains[old.chain], old.scope),
        );
      }
    });
  toString = () => "client catches up";
}

/**
 * After every lease a dead process took has run out (the world's clock moved past them), the last night
 * once more: it sends everything still pending, so an alert the checks let wait for a dead run's lease
 * is sent now, or lost for good.
 */
class LastNightCommand implements Cmd {
  check = (sim: Readonly<Sim>) => sim.night !== undefined;
  run = (sim: Sim, world: World) =>
    step(sim, world, this.toString(), async () => {
      if (sim.stats.kills > 0) await waitForDeadLeases(world);
      const date = sim.owedRerun ?? (sim.night as IsoDate);
      const last = await night(sim, world, date, 1, undefined, undefined, true);
      // A vendor that throttles a form read ends the forms for that run, as it asks: the next run (the
      // continuation) reads them. Its faults are spent by then.
      if (last.formsThrottled) {
        sim.log.push("    (the vendor throttled its form reads: the continuation reads the rest)");
        await night(sim, world, date, 1, undefined, undefined, true);
      }
      // Liveness: a night with no limit reads every form still due (forms a short night left, or a
      // killed one): none is left marked, but one whose read tonight failed (it was told so).
      const failedReads = new Set(
        (await world.rawRegister.nights.read(sim.night as IsoDate)).alerts
          .filter((a) => a.kind === "sync_failed")
          .map((a) => a.subject.replace(/^licence:/, "")),
      );
      for (const record of (await allLicences(world.rawRegister.licences)).values()) {
        if (record.formPending !== true || record.goneSince !== undefined || failedReads.has(record.id))
          continue;
        if (record.status === "deleted") continue;
        throw new Violation(
          `after the last night: licence ${record.id} still has its form to read (formPending), though the night had no time limit`,
        );
      }
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

export type { Cmd, Concurrent, FaultChoice, FaultTarget, KillTarget, QuirkChoice };

const plainSpec: OrderSpec = {
  product: "ispmanager5-lite",
  period: 1,
  ipv6: false,
  autoRenew: null,
  nodes: undefined,
  fancyName: false,
};

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
  /** A successor of the `pick`-th ISPmanager 5 licence the vendor runs (the catalogue's, retired at once by default here). */
  successor: (pick = 0, spec: Partial<SuccessorSpec> = {}): Cmd =>
    new SuccessorCommand({
      pick,
      target: "gen5",
      period: 1,
      retireOld: "now",
      product: "default",
      autoRenew: undefined,
      ...spec,
    }),
  /**
   * A successor planned for the watcher (`PATCH /licenses/{id}` with `successor`) for the `pick`-th
   * ISPmanager 5 licence the vendor runs: tonight's (`on` 0 days from the desk's today) by default.
   */
  plan: (pick = 0, spec: Partial<PlanSpec> = {}): Cmd =>
    new PlanSuccessorCommand({
      pick,
      target: "gen5",
      drop: false,
      period: 1,
      product: "default",
      on: 0,
      retireOld: undefined,
      ...spec,
    }),
  /** The `pick`-th running licence moved to another product of its line (`to` picks which). */
  suspendSuccessor: (pick = 0, via: "desk" | "panel" = "desk"): Cmd => new SuspendSuccessorCommand(pick, via),
  changeProduct: (pick = 0, to = 0, nodes?: number): Cmd =>
    new ChangeProductCommand({ pick, to, same: false, nodes }),
  fault: (kind: FaultChoice, target: FaultTarget, delayMs = 100): Cmd =>
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
  /** A night whose first renewal is held while the reseller acts on that licence in the vendor's panel. */
  nightWithPanel: (what: "renew" | "suspend" | "delete", days = 1): Cmd =>
    new NightCommand("next", days, {
      what: `panel-${what}`,
      pick: 0,
      autoRenew: null,
      delayMs: 0,
      after: "renewal-claim",
    }),
  panel: (choice: PanelChoice): Cmd => new PanelCommand(choice),
  reconcileRace: (
    op: { kind: "order"; spec?: Partial<OrderSpec> } | { kind: "renew"; pick: number; period?: 1 | 12 },
    refusal: "funds" | "throttle",
  ): Cmd =>
    new ReconcileRaceCommand(
      op.kind === "order"
        ? { kind: "order", spec: { ...plainSpec, ...op.spec } }
        : { kind: "renew", pick: op.pick, period: op.period ?? 1 },
      refusal,
    ),
  sameIpOrder: (
    how: "concurrent" | "crossed" | "after" | "after-race",
    who: "same-client" | "other-client" = "other-client",
    name: "same" | "own" = "same",
    pick = 0,
  ): Cmd => new SameIpOrderCommand(pick, who, how, name, plainSpec),
};
