import { AsyncLocalStorage } from "node:async_hooks";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { Agent } from "undici";
import { type FleetLicence, seedLicence } from "../../local/fleet.ts";
import type { FaultKind } from "../../sandbox/faults.ts";
import { canonicalIpv6 } from "../../sandbox/quirks.ts";
import { type RecordedCall, type Sandbox, startSandbox } from "../../sandbox/server.ts";
import type { Licence } from "../../sandbox/state.ts";
import { type BillingClient, billingClientFromConfig } from "../../shared/billmgr/index.ts";
import { type Catalogue, loadCatalogue } from "../../shared/catalogue/index.ts";
import { readBillmgrConfig, readWatcherConfig } from "../../shared/config.ts";
import type { IsoDate } from "../../shared/dates.ts";
import type { DeskDeps } from "../../shared/licences/context.ts";
import type { IdempotencySettings } from "../../shared/licences/idempotency.ts";
import { type ReconcileReport, reconcileUnresolved } from "../../shared/licences/reconciler.ts";
import { createDynamoRegister } from "../../shared/register/dynamodb.ts";
import type { Register } from "../../shared/register/types.ts";
import type { Alert } from "../../shared/watcher/alerts.ts";
import { deliverOnce } from "../../shared/watcher/deliver-once.ts";
import { ledgerText } from "../../shared/watcher/delivery.ts";
import { type NightReport, runNight, type WatcherDeps } from "../../shared/watcher/night.ts";
import type { Notifier } from "../../shared/watcher/notifier.ts";
import { watcherSettings } from "../../shared/watcher/settings.ts";
import { freshTable } from "../support/dynamodb.ts";

/**
 * The simulated world of one run: the vendor sandbox over real HTTP, the register on DynamoDB Local,
 * the desk's use cases, the reconciler and the watcher in this process, each operation run under a
 * label (who made the call) and, for a process kill, with a "death" that stops every further call.
 *
 * Every money call leaving the process carries its label to the vendor (an extra query parameter the
 * vendor ignores), and every charge the vendor makes is tied back to the call that caused it, so each
 * charge maps to exactly one intent: `api:<scope>:<key>`, or a watcher night's `watch:<id>:<night>` key.
 */

/** The simulation's clocks and limits (ms). Small, so one run takes seconds. */
export const TIMING = {
  /** BILLMGR_TIMEOUT_MS: a lost answer costs this much. */
  vendorTimeoutMs: 300,
  /** RECONCILE_AFTER_SECONDS: longer than the latest a vendor acts (timeout + act-late delay). */
  settleMs: 800,
  /** How long a claim holds its key: longer than any one operation takes before it sends. */
  lockMs: 1500,
  /** The longest `act-late` delay queued: the vendor acts at most this long after the caller gave up. */
  maxActLateMs: 150,
  /** The watcher's alert send lease. */
  sendLeaseMs: 1000,
} as const;

export const API_SCOPE = "reseller";
export const WATCHER_SCOPE = "watcher";
export const START = new Date("2021-05-01T10:00:00Z");

/** A dead process: every call from the `at`-th on fails, and nothing it does reaches the world again. */
export class Killed extends Error {
  override readonly name = "Killed";
}

export interface Death {
  /** The call (1-based, counted over register, vendor client and notifier) at which the process dies. */
  at: number;
  /** Instead of a count: the first call of this `store.method`. */
  atPoint?: string;
  /** `before`: it dies before the call leaves; `during`: the call leaves, its answer is lost. */
  mode: "before" | "during";
  count: number;
  dead: boolean;
  /** Where it died: `store.method`. */
  point?: string;
  pointArgs?: unknown[];
  /** Calls that left as the process died (`during`), settled before the world moves on. */
  background: Promise<unknown>[];
}

/**
 * Calls a process never dies at (`store.method`), to look past a known bug during a campaign:
 * `SIM_SPARE=idempotency.freeLicence,alerts.record`.
 */
const SPARED = new Set((process.env.SIM_SPARE ?? "").split(",").filter(Boolean));

export function newDeath(at: number | string, mode: Death["mode"]): Death {
  return typeof at === "string"
    ? { at: Number.POSITIVE_INFINITY, atPoint: at, mode, count: 0, dead: false, background: [] }
    : { at, mode, count: 0, dead: false, background: [] };
}

interface OpContext {
  label: string;
  death?: Death;
}

const context = new AsyncLocalStorage<OpContext>();

/** One vendor charge, tied to the call (and so the label) that caused it. */
export interface AttributedCharge {
  func: "soft.order.param" | "service.prolong";
  elid: string;
  amountMinor: number;
  /** `api:<scope>:<key>`, `watcher:<night>`, `reconciler`…; undefined when no call could be found. */
  label: string | undefined;
  call: RecordedCall | undefined;
  /** The intent charged: `<scope>|<key>`. */
  intent: string | undefined;
  wallMs: number;
}

/** A successful register call worth remembering (who completed, leased or recorded what). */
export interface JournalEntry {
  label: string;
  store: string;
  method: string;
  args: unknown[];
  result: unknown;
  /** Made by a process that was killed (before or after this call). */
  death: Death | undefined;
  wallMs: number;
}

export interface SentMail {
  label: string;
  alert: Alert;
  /** The ledger entries it carries (a digest carries several). */
  keys: string[];
  death: Death | undefined;
}

export const intentId = (scope: string, key: string) => `${scope}|${key}`;

/** The intent a money call's label and licence name. */
function intentOf(label: string | undefined, func: string, elid: string): string | undefined {
  if (!label) return undefined;
  if (label.startsWith("api:")) return intentId(API_SCOPE, label.slice(`api:${API_SCOPE}:`.length));
  if (label.startsWith("watcher:") && func === "service.prolong") {
    const night = label.split(":")[1] ?? "";
    return intentId(WATCHER_SCOPE, `watch:${elid}:${night}`);
  }
  return `${label}|?`;
}

const JOURNALLED = new Set([
  "idempotency.complete",
  "idempotency.lease",
  "alerts.record",
  "alerts.lease",
  "alerts.markSent",
  "nights.begin",
  ...(process.env.SIM_DEBUG ? ["licences.update", "licences.put", "licences.create"] : []),
]);

export interface World {
  sandbox: Sandbox;
  register: Register;
  /** The register without the simulation's wrapping: for checks, never for the product. */
  rawRegister: Register;
  billing: BillingClient;
  catalogue: Catalogue;
  idempotency: IdempotencySettings;
  charges: AttributedCharge[];
  journal: JournalEntry[];
  mails: SentMail[];
  /** Wall-clock ms by which every `act-late` or `slow` call taken so far has acted (or never will). */
  lateActsUntil: number;
  deskDeps(): DeskDeps;
  watcherDeps(): WatcherDeps;
  /** Runs `work` as one operation: its calls carry `label`; with `death`, the process dies on schedule. */
  op<T>(label: string, work: () => Promise<T>, death?: Death): Promise<OpOutcome<T>>;
  /** One reconciler pass as the scheduled Lambda runs it: settle, then deliver its alerts once. */
  reconcilePass(at: Date): Promise<ReconcileReport>;
  night(night: IsoDate, at: Date): Promise<NightReport>;
  /** Queues a vendor fault on the next call of `func`; `then` is queued once that fault is taken. */
  fault(
    func: string,
    kind: FaultKind,
    delayMs?: number,
    then?: { func: string; kind: FaultKind; count: number },
  ): void;
  /**
   * Holds the next call of `store.method` whose label and arguments match, for `ms`, before it leaves
   * (scenarios only: to land a change exactly between a read and its write). True once it is held;
   * false when no such call came within 3 s.
   */
  pause(point: string, match: (label: string, args: unknown[]) => boolean, ms: number): Promise<boolean>;
  vendorBook(): Licence[];
  close(): Promise<void>;
}

export type OpOutcome<T> =
  | { kind: "ok"; value: T }
  | { kind: "error"; error: unknown }
  | { kind: "killed"; point: string; value?: T; error?: unknown };

/** The fleet every run starts with, at the vendor and in the register. */
export const FLEET: FleetLicence[] = [
  {
    name: "monthly-auto",
    ip: "82.156.37.11",
    pricelist: "3541",
    period: 1,
    createdate: "2021-04-03",
    expiredate: "2021-05-03",
    autoRenew: 1,
    case: "renewed monthly by the watcher",
  },
  {
    name: "manual",
    ip: "82.156.37.12",
    pricelist: "3541",
    period: 1,
    createdate: "2021-04-04",
    expiredate: "2021-05-04",
    autoRenew: null,
    case: "lapses unless renewed through the API: the vendor suspends it",
  },
  {
    name: "cluster-auto",
    ip: "82.156.37.14",
    pricelist: "4601",
    nodes: 2,
    period: 1,
    createdate: "2021-04-06",
    expiredate: "2021-05-06",
    autoRenew: 1,
    case: "a Business licence with nodes, renewed monthly",
  },
  {
    name: "yearly-auto",
    ip: "2001:db8::14",
    pricelist: "3541",
    period: 12,
    createdate: "2020-05-09",
    expiredate: "2021-05-09",
    autoRenew: 12,
    case: "renewed to the cap",
  },
];

/**
 * Known bugs the simulation can put back into the product from the outside, to prove it finds them:
 * - `no-settle-window`: an unknown outcome is judged at once, from one immediate read (issue 8, item 1);
 * - `forget-unknown`: a lost answer frees its key, so a same-key retry sends again (issue 8, item 2).
 */
export type Mutant = "no-settle-window" | "forget-unknown";

export async function createWorld(dynamo: DynamoDBClient, mutant?: Mutant): Promise<World> {
  const sandbox = await startSandbox({
    credentials: "sim:sim-secret",
    now: START,
    balanceMinor: 100_000_000,
  });
  const table = await freshTable(dynamo, "simulation");
  const rawRegister = createDynamoRegister({ client: dynamo, tableName: table });
  const catalogue = loadCatalogue();
  const charges: AttributedCharge[] = [];
  const journal: JournalEntry[] = [];
  const mails: SentMail[] = [];
  const idempotency: IdempotencySettings = {
    ttlSeconds: 2 * 86_400,
    lockMs: TIMING.lockMs,
    settleMs: mutant === "no-settle-window" ? 0 : TIMING.settleMs,
  };

  // Every vendor call carries its operation's label as a parameter the vendor ignores.
  const agent = new Agent({
    keepAliveTimeout: 10_000,
    connections: 32,
    connect: { timeout: TIMING.vendorTimeoutMs },
  });
  const dispatcher = agent.compose((dispatch) => (options, handler) => {
    const label = context.getStore()?.label ?? "untracked";
    const path = options.path ?? "/";
    const tagged = `${path}${path.includes("?") ? "&" : "?"}sim_label=${encodeURIComponent(label)}`;
    return dispatch({ ...options, path: tagged }, handler);
  });
  const rawBilling = billingClientFromConfig(
    readBillmgrConfig({
      BILLMGR_URL: sandbox.url,
      BILLMGR_CREDENTIALS: "sim:sim-secret",
      BILLMGR_TIMEOUT_MS: String(TIMING.vendorTimeoutMs),
      BILLMGR_RETRIES: "1",
      BILLMGR_RETRY_BASE_MS: "1",
    }),
    { dispatcher },
  );

  // Each charge tied to its call: a call acts synchronously on arrival (it is the last one recorded),
  // except `act-late` and `slow`, which act later (the oldest such call not yet tied to a charge).
  const tied = new Set<RecordedCall>();
  const state = sandbox.state;
  function attribute(func: AttributedCharge["func"], licence: Licence): void {
    const charge = state.charges().at(-1);
    const matches = (call: RecordedCall) =>
      call.func === func &&
      !tied.has(call) &&
      (func === "service.prolong"
        ? call.params.elid === licence.id
        : canonicalIpv6(call.params.ip ?? "") === canonicalIpv6(licence.ip));
    const delayed = (c: RecordedCall) => c.fault === "act-late" || c.fault === "slow";
    const last = sandbox.calls.at(-1);
    let call = last && !delayed(last) && matches(last) ? last : undefined;
    call ??= sandbox.calls.find((c) => delayed(c) && matches(c));
    if (call) tied.add(call);
    const label = call?.params.sim_label;
    charges.push({
      func,
      elid: licence.id,
      amountMinor: charge?.amountMinor ?? 0,
      label,
      call,
      intent: intentOf(label, func, licence.id),
      wallMs: Date.now(),
    });
  }
  const order = state.order.bind(state);
  state.order = (input) => {
    const licence = order(input);
    attribute("soft.order.param", licence);
    return licence;
  };
  const prolong = state.prolong.bind(state);
  state.prolong = (elid, period) => {
    const quote = prolong(elid, period);
    attribute("service.prolong", quote.licence);
    return quote;
  };

  // Faults with a follow-up (an answer without its expiry, then the reads after it throttled).
  const followUps: Array<{
    func: string;
    kind: FaultKind;
    then: { func: string; kind: FaultKind; count: number };
  }> = [];
  const take = sandbox.faults.take.bind(sandbox.faults);
  sandbox.faults.take = (func) => {
    const fault = take(func);
    if (fault?.kind === "act-late" || fault?.kind === "slow") {
      const lands = Date.now() + TIMING.vendorTimeoutMs + fault.delayMs + 100;
      world.lateActsUntil = Math.max(world.lateActsUntil, lands);
    }
    const next = followUps.findIndex((f) => f.func === func && f.kind === fault?.kind);
    const follow = followUps[next];
    if (follow) {
      followUps.splice(next, 1);
      sandbox.faults.add({
        func: follow.then.func,
        kind: follow.then.kind,
        count: follow.then.count,
        delayMs: 0,
      });
    }
    return fault;
  };

  const notifier: Notifier = {
    async send(alert) {
      const store = context.getStore();
      mails.push({
        label: store?.label ?? "untracked",
        alert,
        keys: alert.covers ?? [ledgerText(alert)],
        death: store?.death,
      });
    },
  };

  const pauses: Array<{
    point: string;
    match: (label: string, args: unknown[]) => boolean;
    ms: number;
    started: () => void;
  }> = [];

  /** Every call of these objects counted against the operation's death, and the interesting ones journalled. */
  function wrap<T extends object>(name: string, target: T): T {
    const out: Record<string, unknown> = {};
    for (const [method, value] of Object.entries(target)) {
      if (typeof value !== "function") {
        out[method] = value;
        continue;
      }
      const call = (args: unknown[]) =>
        Promise.resolve((value as (...a: unknown[]) => unknown).apply(target, args));
      out[method] = async (...args: unknown[]) => {
        const store = context.getStore();
        const death = store?.death;
        const held = pauses.findIndex(
          (p) => p.point === `${name}.${method}` && p.match(store?.label ?? "", args),
        );
        if (held >= 0) {
          const [pause] = pauses.splice(held, 1);
          pause?.started();
          await new Promise((resolve) => setTimeout(resolve, pause?.ms));
        }
        const note = (result: unknown) => {
          if (JOURNALLED.has(`${name}.${method}`)) {
            journal.push({
              label: store?.label ?? "untracked",
              store: name,
              method,
              args,
              result,
              death,
              wallMs: Date.now(),
            });
          }
          return result;
        };
        if (death) {
          if (death.dead) throw new Killed(`dead since ${death.point}`);
          death.count += 1;
          const point = `${name}.${method}`;
          if ((death.count >= death.at || death.atPoint === point) && !SPARED.has(point)) {
            death.dead = true;
            death.point = `${name}.${method}`;
            death.pointArgs = args;
            if (death.mode === "during") death.background.push(call(args).then(note, () => {}));
            throw new Killed(`killed at ${death.point} (call ${death.count}, ${death.mode})`);
          }
        }
        return note(await call(args));
      };
    }
    return out as T;
  }

  const register: Register = {
    licences: wrap("licences", rawRegister.licences),
    audit: wrap("audit", rawRegister.audit),
    idempotency: wrap(
      "idempotency",
      mutant === "forget-unknown"
        ? {
            ...rawRegister.idempotency,
            markUnknown: async (scope, key) => {
              await rawRegister.idempotency.release(scope, key);
            },
          }
        : rawRegister.idempotency,
    ),
    alerts: wrap("alerts", rawRegister.alerts),
    nights: wrap("nights", rawRegister.nights),
  };
  const billing = wrap("billing", rawBilling);
  const wrappedNotifier = wrap("notifier", notifier);
  const settings = {
    ...watcherSettings(readWatcherConfig({})),
    sendLeaseMs: TIMING.sendLeaseMs,
    digestMin: 3,
  };

  const deskDeps = (): DeskDeps => ({ billing, register, catalogue, idempotency });

  async function reconcilePass(at: Date): Promise<ReconcileReport> {
    const store = context.getStore();
    return context.run({ label: "reconciler", death: store?.death }, async () => {
      const report = await reconcileUnresolved(deskDeps(), at);
      await deliverOnce(register.alerts, wrappedNotifier, report.alerts);
      return report;
    });
  }

  const watcherDeps = (): WatcherDeps => ({
    billing,
    register,
    catalogue,
    notifier: wrappedNotifier,
    settings,
    idempotency,
    reconcile: async (at) => {
      await reconcilePass(at);
    },
  });

  for (const licence of FLEET) await seedLicence(sandbox, rawRegister, licence);

  const world: World = {
    sandbox,
    register,
    rawRegister,
    billing,
    catalogue,
    idempotency,
    charges,
    journal,
    mails,
    lateActsUntil: 0,
    deskDeps,
    watcherDeps,
    async op(label, work, death) {
      const outcome = await context.run({ label, ...(death && { death }) }, async () => {
        try {
          return { kind: "ok" as const, value: await work() };
        } catch (error) {
          return { kind: "error" as const, error };
        }
      });
      if (!death) return outcome;
      await Promise.allSettled(death.background);
      if (!death.dead) return outcome;
      return {
        kind: "killed",
        point: death.point ?? "?",
        ...(outcome.kind === "ok" ? { value: outcome.value } : { error: outcome.error }),
      };
    },
    reconcilePass,
    night: (night, at) => {
      sandbox.setNow(at);
      return context.run({ label: `watcher:${night}`, death: context.getStore()?.death }, () =>
        runNight(watcherDeps(), night, at),
      );
    },
    fault(func, kind, delayMs, then) {
      sandbox.faults.add({ func, kind, count: 1, delayMs });
      if (then) followUps.push({ func, kind, then });
    },
    pause: (point, match, ms) =>
      new Promise<boolean>((resolve) => {
        const pause = { point, match, ms, started: () => resolve(true) };
        pauses.push(pause);
        // No such call within 3 s: nothing is held.
        setTimeout(() => {
          const at = pauses.indexOf(pause);
          if (at >= 0) pauses.splice(at, 1);
          resolve(false);
        }, 3000);
      }),
    vendorBook: () => sandbox.state.list(),
    async close() {
      await sandbox.close();
      await agent.close();
    },
  };
  return world;
}
