import { AsyncLocalStorage } from "node:async_hooks";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { Agent } from "undici";
import { type FleetLicence, seedLicence } from "../../local/fleet.ts";
import type { FaultKind } from "../../sandbox/faults.ts";
import { canonicalIpv6 } from "../../sandbox/quirks.ts";
import { type RecordedCall, type Sandbox, startSandbox } from "../../sandbox/server.ts";
import type { Licence } from "../../sandbox/state.ts";
import { type BillingClient, billingClientFromConfig } from "../../shared/adapters/billmgr/index.ts";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import { readBillmgrConfig, readWatcherConfig, watcherSettings } from "../../shared/config.ts";
import type { Alert } from "../../shared/domain/alerts/alerts.ts";
import { deliverOnce } from "../../shared/domain/alerts/send-now.ts";
import { ledgerText } from "../../shared/domain/alerts/send-pending.ts";
import { type Catalogue, loadCatalogue } from "../../shared/domain/catalogue/catalogue.ts";
import type { IsoDate } from "../../shared/domain/dates.ts";
import type { DeskDeps } from "../../shared/domain/licences/context.ts";
import type { IdempotencySettings } from "../../shared/domain/licences/idempotency-settings.ts";
import { type ReconcileReport, reconcileUnresolved } from "../../shared/domain/licences/reconciler.ts";
import { type NightReport, runNight, type WatcherDeps } from "../../shared/domain/night/night.ts";
import type { LicenceRecord } from "../../shared/domain/ports/licence-store.ts";
import type { Notifier } from "../../shared/domain/ports/notifier.ts";
import type { Register } from "../../shared/domain/ports/register.ts";
import { freshTable } from "../support/dynamodb.ts";

/**
 * The simulated world of one run: the vendor sandbox over real HTTP, the register on DynamoDB Local,
 * the desk's use cases, the reconciler and the watcher in this process, each operation run under a
 * label (who made the call) and, for a process kill, with a "death" that stops every further call.
 *
 * Every money call leaving the process carries its label to the vendor (an extra query parameter the
 * vendor ignores), and every charge the vendor makes is tied back to the call that caused it, so each
 * charge maps to exactly one intent: `api:<scope>:<key>`, or a watcher night's `watch:<id>:<night>` key
 * (a renewal) or `watch-successor:<id>:<night>` key (a planned successor, `<id>` the licence it succeeds).
 */

/**
 * The simulation's clocks and limits (ms). Small, so one run takes seconds.
 *
 * The world keeps one clock the simulation can move (`World.nowMs`: the real time plus what it was moved
 * by): the desk's intents (locks, settle windows), its licence and order holds, the reconciler's ages and
 * leases, the watcher's renewal and send leases all read it, and so does every time the simulation
 * stamps (a charge, a panel action, a register write) and compares with theirs. Nothing sleeps a window
 * or a lease out: `waitForSettle` moves the clock past every sent intent's settle window and lock, the
 * last night past every lease a dead process took. The clock is only moved between operations, never
 * while one runs, and it goes on with the real time meanwhile.
 *
 * Real time, on purpose: the vendor client's timeouts (a socket's; a request's deadline stays real by
 * design), and the sandbox's delayed acts (`slow`, `act-late`: real timers in sandbox/pauses.ts), which
 * the simulation waits out for real (`waitForLateActs`, and before every move of the clock: a vendor
 * acting after the desk's window was moved past would break the very assumption `settleMs` states);
 * and the holds and delays that sequence real concurrency (a call held at a point, a panel action or a
 * change during a night some ms after it starts).
 */
export const TIMING = {
  /** BILLMGR_TIMEOUT_MS: a lost answer costs this much. */
  vendorTimeoutMs: 300,
  /**
   * RECONCILE_AFTER_SECONDS: longer than the latest a vendor acts (timeout + act-late delay), in real
   * time: the clock runs on with it while nothing moves it, so a retry may come that much later for real.
   */
  settleMs: 800,
  /** How long a claim holds its key: longer than any one operation takes (in real time) before it sends. */
  lockMs: 1500,
  /** The longest `act-late` delay queued: the vendor acts at most this long after the caller gave up. */
  maxActLateMs: 150,
  /** The watcher's alert send lease. */
  sendLeaseMs: 1000,
} as const;

export const API_SCOPE = "reseller";
/** A second API client of the same desk (its own keys, its own intents). */
export const OTHER_SCOPE = "reseller-b";
export const CLIENT_SCOPES: readonly string[] = [API_SCOPE, OTHER_SCOPE];
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
  /** The operation's number (every money call it makes carries it, so each charge names its request). */
  attempt?: number;
  /** For the reconciler: the intent it is resuming (the last key it claimed), named by its calls. */
  resuming?: string;
}

const context = new AsyncLocalStorage<OpContext>();

/** One vendor charge, tied to the call (and so the label) that caused it. */
export interface AttributedCharge {
  func: "soft.order.param" | "service.prolong" | "service.changepricelist";
  elid: string;
  amountMinor: number;
  /**
   * `api:<scope>:<key>`, `watcher:<night>`, `reconciler`…, or `panel:<n>` for the reseller's own action in
   * the vendor's panel (no call); undefined when no call could be found.
   */
  label: string | undefined;
  call: RecordedCall | undefined;
  /** The intent charged: `<scope>|<key>` (`panel|<n>` for a panel action: never the desk's). */
  intent: string | undefined;
  /** The operation (world.op) whose call this was: which request of the client, say. */
  attempt: number | undefined;
  /** A renewal's (or a tariff change's) licence at the vendor right before it was charged. */
  before?:
    | {
        status: string;
        suspendedBy: string | null;
        expiredate: string;
        pricelist?: string;
        nodes?: number | null;
      }
    | undefined;
  /**
   * A watcher's successor order: the licence it succeeds (from its key) as the vendor had it right
   * before the order was charged.
   */
  predecessor?:
    | { id: string; status: string | undefined; suspendedBy: string | null | undefined }
    | undefined;
  /** An order's licence as the vendor placed it (a later change of product moves its pricelist). */
  placed?: { pricelist: string; ip: string } | undefined;
  /**
   * When the vendor charged, on the world's clock (`World.nowMs`), as an intent's `sentAt` and locks are:
   * not the sandbox's own charge log, whose times are its calendar's.
   */
  wallMs: number;
}

/** Something the reseller did in the vendor's own panel, beside the desk. */
export type PanelAction =
  | { what: "renew"; id: string; period: number }
  | { what: "suspend"; id: string }
  | { what: "delete"; id: string }
  | { what: "order"; ip: string; name: string; pricelist: string; period: number };

export interface PanelEntry {
  n: number;
  action: PanelAction;
  /** What the panel did: the licence it touched or created, or why it refused. */
  ok: boolean;
  licenceId: string | undefined;
  said: string;
  /** On the world's clock (`World.nowMs`). */
  wallMs: number;
  /** Done while the watcher held its renewal of `licenceId` on night `night` (after its plan, before sending). */
  duringRenewal?: { night: string; licenceId: string };
  /** It changed the licence (a suspend of one suspended already, or a delete of one deleted, does not). */
  effective: boolean;
}

/**
 * A licence the vendor deleted on a call (`soft.delete`: the desk's retirement of a succeeded licence,
 * the only delete the simulation's desk makes) or in the panel, with the vendor's book of that IP as it
 * was right before: which licence on it ran then (the successor the retirement waited for).
 */
export interface Deletion {
  elid: string;
  /** `watcher:<night>`, `api:<scope>:<key>` (a successor retiring its predecessor at once), `panel:<n>`… */
  label: string | undefined;
  /** The licence right before it was deleted (its expiry, status). */
  before: Licence | undefined;
  /** The other licences on its IP at the vendor right before (ids and statuses). */
  sameIp: Array<{ id: string; pricelist: string; status: string }>;
  /** The vendor's day when it deleted it. */
  vendorToday: string;
  /** On the world's clock. */
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
  /** On the world's clock (`World.nowMs`), as the times in its arguments (leases) are. */
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

/** The Idempotency-Key of a night's order of a licence's planned successor (shared/domain/night/phases/successors.ts). */
export const WATCH_SUCCESSOR = "watch-successor:";

/** The predecessor and night a watcher successor key names (`watch-successor:<licenceId>:<night>`). */
export function watchSuccessorOf(key: string): { licenceId: string; night: string } | undefined {
  if (!key.startsWith(WATCH_SUCCESSOR)) return undefined;
  const [licenceId = "", night = ""] = key.slice(WATCH_SUCCESSOR.length).split(":");
  return { licenceId, night };
}

/**
 * The intent a money call's label and licence name (`api:<scope>:<key>` for a client's request; a
 * night's renewal by its licence; a night's successor order by the licence it succeeds, which
 * `successorOn` finds from the night and the IP ordered).
 */
function intentOf(
  label: string | undefined,
  func: string,
  licence: Licence,
  successorOn: (night: string, ip: string) => string | undefined,
): string | undefined {
  if (!label) return undefined;
  if (label.startsWith("api:")) {
    const rest = label.slice("api:".length);
    const at = rest.indexOf(":");
    return intentId(rest.slice(0, at), rest.slice(at + 1));
  }
  if (label.startsWith("watcher:") && func === "service.prolong") {
    const night = label.split(":")[1] ?? "";
    return intentId(WATCHER_SCOPE, `watch:${licence.id}:${night}`);
  }
  if (label.startsWith("watcher:") && func === "soft.order.param") {
    const key = successorOn(label.split(":")[1] ?? "", licence.ip);
    if (key !== undefined) return intentId(WATCHER_SCOPE, key);
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
  /** Every licence the vendor deleted on a call or in the panel (not its own deletion of a long-lapsed one). */
  deletions: Deletion[];
  journal: JournalEntry[];
  mails: SentMail[];
  /**
   * Real-time ms (`Date.now`, not the world's clock: the sandbox's timers run on it) by which every
   * `act-late` or `slow` call taken so far has acted (or never will).
   */
  lateActsUntilRealMs: number;
  /** The world's clock (epoch ms): the real time plus what `advance` moved it by. */
  nowMs(): number;
  /**
   * Lets `ms` pass at once for the desk, the reconciler and the watcher (their locks, settle windows and
   * leases), and for the vendor's calendar, as a later request would find them. Only between operations.
   */
  advance(ms: number): void;
  deskDeps(): DeskDeps;
  watcherDeps(): WatcherDeps;
  /** Runs `work` as one operation: its calls carry `label`; with `death`, the process dies on schedule. */
  op<T>(label: string, work: () => Promise<T>, death?: Death): Promise<OpOutcome<T>>;
  /** One reconciler pass as the scheduled Lambda runs it: settle, then deliver its alerts once. */
  reconcilePass(at: Date): Promise<ReconcileReport>;
  /** One run of a night; with `budgetMs`, as an invocation with that long left (no reserve). */
  night(night: IsoDate, at: Date, budgetMs?: number): Promise<NightReport>;
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
  /**
   * Holds the next matching call of `store.method` until `until` settles (at most `maxMs`, 3 s), to
   * sequence a race exactly: resolves with the held call's label and arguments once it is held, or
   * undefined when no such call came within `maxMs` or before `signal` aborted (the race is over).
   */
  hold(
    point: string,
    match: (label: string, args: unknown[]) => boolean,
    until: Promise<unknown>,
    options?: { maxMs?: number; signal?: AbortSignal },
  ): Promise<{ label: string; args: unknown[] } | undefined>;
  /** The reseller acts in the vendor's panel (no call, no desk): charged as the panel's, never an intent's. */
  panel(action: PanelAction, duringRenewal?: PanelEntry["duringRenewal"]): PanelEntry;
  panelLog: PanelEntry[];
  /**
   * Each night's run as it began (wall clock): which panel changes a night could have seen, and the
   * licences suspended through the desk then (the register's mark, the vendor's suspension).
   */
  nightRuns: Array<{ night: string; startedMs: number; deskSuspended?: ReadonlySet<string> }>;
  /**
   * Every Idempotency-Key of a watcher's successor order a night claimed or took over
   * (`watch-successor:<licenceId>:<night>`), in the order first seen.
   */
  watcherSuccessorKeys: Set<string>;
  vendorBook(): Licence[];
  close(): Promise<void>;
}

/** `attempt`: the operation's number, which every money call it made carries (see AttributedCharge). */
export type OpOutcome<T> = (
  | { kind: "ok"; value: T }
  | { kind: "error"; error: unknown }
  | { kind: "killed"; point: string; value?: T; error?: unknown }
) & { attempt?: number };

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
 * - `no-settle-window`: an unknown outcome is judged at once, from one immediate read;
 * - `forget-unknown`: a lost answer frees its key, so a same-key retry sends again;
 * - `retire-unchecked`: a retirement takes the successor as running whatever the vendor says (every
 *   read of a licence that succeeds another answers "active");
 * - `plan-early`: the watcher forgets a plan's night (its reads of the register lose `successorPlan.on`),
 *   so it orders on the default night, 14 days before the licence stops working;
 * - `forms-never`: every night runs out of time before its forms, so a licence written from its list
 *   row never gets its key and nodes.
 */
export type Mutant =
  | "no-settle-window"
  | "forget-unknown"
  | "retire-unchecked"
  | "plan-early"
  | "forms-never";
export const MUTANTS: readonly Mutant[] = [
  "no-settle-window",
  "forget-unknown",
  "retire-unchecked",
  "plan-early",
  "forms-never",
];

/** The register's licences as the `plan-early` watcher reads them: every plan without its night. */
function withoutPlanNights(store: Register["licences"]): Register["licences"] {
  const forget = (record: LicenceRecord): LicenceRecord => {
    if (!context.getStore()?.label.startsWith("watcher:") || !record.successorPlan?.on) return record;
    const { on: _on, ...plan } = record.successorPlan;
    return { ...record, successorPlan: plan };
  };
  return {
    ...store,
    get: async (id) => {
      const record = await store.get(id);
      return record && forget(record);
    },
    list: async (query) => {
      const page = await store.list(query);
      return { ...page, items: page.items.map(forget) };
    },
  };
}

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
  const deletions: Deletion[] = [];
  const journal: JournalEntry[] = [];
  const mails: SentMail[] = [];
  /** What the simulation moved the world's clock by (`advance`). */
  let movedMs = 0;
  const nowMs = () => Date.now() + movedMs;
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
    const store = context.getStore();
    const label = store?.label ?? "untracked";
    const path = options.path ?? "/";
    const tags = [
      `sim_label=${encodeURIComponent(label)}`,
      store?.attempt !== undefined && `sim_attempt=${store.attempt}`,
      store?.resuming !== undefined && `sim_intent=${encodeURIComponent(store.resuming)}`,
    ].filter(Boolean);
    const tagged = `${path}${path.includes("?") ? "&" : "?"}${tags.join("&")}`;
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
  const watcherSuccessorKeys = new Set<string>();
  /**
   * The watcher's successor key a night's order of `ip` was sent under: the one key of that night
   * whose licence is on that IP at the vendor (one live licence per IP and line: one such key a night).
   */
  const successorOn = (night: string, ip: string): string | undefined => {
    const wanted = canonicalIpv6(ip);
    const keys = [...watcherSuccessorKeys].filter((key) => {
      const named = watchSuccessorOf(key);
      const predecessor = named?.night === night ? sandbox.state.get(named.licenceId) : undefined;
      return predecessor !== undefined && canonicalIpv6(predecessor.ip) === wanted;
    });
    // Two on one IP (a deleted licence the register still had as live): the one the vendor still runs.
    const live = keys.filter(
      (key) => sandbox.state.get(watchSuccessorOf(key)?.licenceId ?? "")?.status !== "4",
    );
    return keys.length === 1 ? keys[0] : live.length === 1 ? live[0] : undefined;
  };
  const state = sandbox.state;
  /**
   * The call the vendor is acting on now (charged or refused), taken off the calls still to act: the
   * last one received, or, for `act-late` and `slow`, the oldest such call not acted on yet.
   */
  function callActing(
    func: string,
    elid: string | undefined,
    ip: string | undefined,
  ): RecordedCall | undefined {
    const matches = (call: RecordedCall) =>
      call.func === func &&
      !tied.has(call) &&
      (func === "service.prolong" || func === "service.changepricelist" || func === "soft.delete"
        ? call.params.elid === elid
        : canonicalIpv6(call.params.ip ?? "") === canonicalIpv6(ip ?? ""));
    const delayed = (c: RecordedCall) => c.fault === "act-late" || c.fault === "slow";
    const last = sandbox.calls.at(-1);
    let call = last && !delayed(last) && matches(last) ? last : undefined;
    call ??= sandbox.calls.find((c) => delayed(c) && matches(c));
    if (call) tied.add(call);
    return call;
  }
  /** The panel action under way (`panel:<n>`): what the vendor charges meanwhile is the panel's. */
  let panelActing: string | undefined;
  function attribute(
    func: AttributedCharge["func"],
    licence: Licence,
    before?: AttributedCharge["before"],
  ): void {
    const charge = state.charges().at(-1);
    if (panelActing !== undefined) {
      charges.push({
        func,
        elid: licence.id,
        amountMinor: charge?.amountMinor ?? 0,
        label: panelActing,
        call: undefined,
        intent: `panel|${panelActing.slice("panel:".length)}`,
        attempt: undefined,
        before,
        wallMs: nowMs(),
      });
      return;
    }
    const call = callActing(func, licence.id, licence.ip);
    const label = call?.params.sim_label;
    const attempt = call?.params.sim_attempt;
    const intent = call?.params.sim_intent ?? intentOf(label, func, licence, successorOn);
    const named = intent === undefined ? undefined : watchSuccessorOf(intent.slice(intent.indexOf("|") + 1));
    const was = named && state.get(named.licenceId);
    charges.push({
      func,
      elid: licence.id,
      amountMinor: charge?.amountMinor ?? 0,
      label,
      call,
      intent,
      attempt: attempt === undefined ? undefined : Number(attempt),
      before,
      ...(named && {
        predecessor: { id: named.licenceId, status: was?.status, suspendedBy: was?.suspendedBy },
      }),
      ...(func === "soft.order.param" && { placed: { pricelist: licence.pricelist, ip: licence.ip } }),
      wallMs: nowMs(),
    });
  }
  const order = state.order.bind(state);
  // A refused call is acted on too: taken off the calls to act, so a later charge is never tied to it.
  state.order = (input) => {
    let licence: Licence;
    try {
      licence = order(input);
    } catch (error) {
      if (panelActing === undefined) callActing("soft.order.param", undefined, input.ip);
      throw error;
    }
    attribute("soft.order.param", licence);
    return licence;
  };
  const prolong = state.prolong.bind(state);
  state.prolong = (elid, period) => {
    const was = elid === undefined ? undefined : state.get(elid);
    let quote: ReturnType<typeof prolong>;
    try {
      quote = prolong(elid, period);
    } catch (error) {
      if (panelActing === undefined) callActing("service.prolong", elid, undefined);
      throw error;
    }
    attribute(
      "service.prolong",
      quote.licence,
      was && { status: was.status, suspendedBy: was.suspendedBy, expiredate: was.expiredate },
    );
    return quote;
  };

  const changeTariff = state.changeTariff.bind(state);
  state.changeTariff = (elid, input) => {
    const was = elid === undefined ? undefined : state.get(elid);
    let quote: ReturnType<typeof changeTariff>;
    try {
      quote = changeTariff(elid, input);
    } catch (error) {
      if (panelActing === undefined) callActing("service.changepricelist", elid, undefined);
      throw error;
    }
    attribute(
      "service.changepricelist",
      quote.licence,
      was && {
        status: was.status,
        suspendedBy: was.suspendedBy,
        expiredate: was.expiredate,
        pricelist: was.pricelist,
        nodes: was.nodes,
      },
    );
    return quote;
  };
  const remove = state.delete.bind(state);
  state.delete = (elid) => {
    const was = elid === undefined ? undefined : state.get(elid);
    const sameIp = was
      ? state
          .list()
          .filter((l) => l.id !== was.id && canonicalIpv6(l.ip) === canonicalIpv6(was.ip))
          .map((l) => ({ id: l.id, pricelist: l.pricelist, status: l.status }))
      : [];
    let licence: Licence;
    try {
      licence = remove(elid);
    } catch (error) {
      if (panelActing === undefined) callActing("soft.delete", elid, undefined);
      throw error;
    }
    const call = panelActing === undefined ? callActing("soft.delete", licence.id, undefined) : undefined;
    deletions.push({
      elid: licence.id,
      label: panelActing ?? call?.params.sim_label,
      before: was,
      sameIp,
      vendorToday: state.today(),
      wallMs: nowMs(),
    });
    return licence;
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
      world.lateActsUntilRealMs = Math.max(world.lateActsUntilRealMs, lands);
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
    /** Held this long, or until this settles. */
    ms: number | Promise<unknown>;
    started: (label: string, args: unknown[]) => void;
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
          pause?.started(store?.label ?? "", args);
          const ms = pause?.ms ?? 0;
          await (typeof ms === "number" ? new Promise((resolve) => setTimeout(resolve, ms)) : ms);
        }
        // A night's successor order, named by its key (the charge is tied to it by the IP ordered).
        if (name === "idempotency" && (method === "claim" || method === "takeOver")) {
          const key = String(method === "claim" ? (args[0] as { key?: string }).key : args[1]);
          if (key.startsWith(WATCH_SUCCESSOR)) watcherSuccessorKeys.add(key);
        }
        // The reconciler names the intent it resumes on every call it makes for it: it reads its record
        // again first (it settles what is recorded, and never claims a key).
        if (name === "idempotency" && method === "find" && store?.label === "reconciler") {
          store.resuming = intentId(String(args[0]), String(args[1]));
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
              wallMs: nowMs(),
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
    licences: wrap(
      "licences",
      mutant === "plan-early" ? withoutPlanNights(rawRegister.licences) : rawRegister.licences,
    ),
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
  const billing = wrap(
    "billing",
    mutant === "retire-unchecked"
      ? {
          ...rawBilling,
          get: async (...args: Parameters<BillingClient["get"]>) => {
            const details = await rawBilling.get(...args);
            const record = await rawRegister.licences.get(args[0]).catch(() => undefined);
            return record?.predecessorId !== undefined ? { ...details, status: "active" as const } : details;
          },
        }
      : rawBilling,
  );
  const wrappedNotifier = wrap("notifier", notifier);
  const settings = {
    ...watcherSettings(readWatcherConfig({})),
    sendLeaseMs: TIMING.sendLeaseMs,
    digestMin: 3,
    // A summary every night, so the model can expect one of each night it ran: which nights stay quiet
    // (SUMMARY_MAILS' default) is the 2021 calendar's to prove (test/watcher/calendar.test.ts).
    summaryMails: "nightly" as const,
  };

  const deskDeps = (): DeskDeps => ({ billing, register, catalogue, idempotency, nowMs });

  async function reconcilePass(at: Date): Promise<ReconcileReport> {
    const store = context.getStore();
    return context.run({ label: "reconciler", death: store?.death }, async () => {
      const report = await reconcileUnresolved(deskDeps(), at);
      await deliverOnce(register.alerts, wrappedNotifier, report.alerts, nowMs);
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
    nowMs,
    reconcile: async (at) => {
      await reconcilePass(at);
    },
  });

  let attempts = 0;
  const panelLog: PanelEntry[] = [];

  for (const licence of FLEET) await seedLicence(sandbox, rawRegister, licence);

  const world: World = {
    sandbox,
    register,
    rawRegister,
    billing,
    catalogue,
    idempotency,
    charges,
    deletions,
    journal,
    mails,
    lateActsUntilRealMs: 0,
    nowMs,
    advance(ms) {
      if (ms <= 0) return;
      movedMs += ms;
      sandbox.setNow(new Date(sandbox.state.now().getTime() + ms));
    },
    deskDeps,
    watcherDeps,
    async op(label, work, death) {
      attempts += 1;
      const attempt = attempts;
      const outcome = await context.run({ label, attempt, ...(death && { death }) }, async () => {
        try {
          return { kind: "ok" as const, value: await work(), attempt };
        } catch (error) {
          return { kind: "error" as const, error, attempt };
        }
      });
      if (!death) return outcome;
      await Promise.allSettled(death.background);
      if (!death.dead) return outcome;
      return {
        kind: "killed",
        point: death.point ?? "?",
        attempt,
        ...(outcome.kind === "ok" ? { value: outcome.value } : { error: outcome.error }),
      };
    },
    reconcilePass,
    night: (night, at, budgetMs) => {
      sandbox.setNow(at);
      const deps = watcherDeps();
      const budget = mutant === "forms-never" ? 0 : budgetMs;
      const bounded =
        budget === undefined
          ? deps
          : {
              ...deps,
              settings: { ...deps.settings, finishReserveMs: 0 },
              remainingMs: () => budget,
            };
      return context.run({ label: `watcher:${night}`, death: context.getStore()?.death }, () =>
        runNight(bounded, night, at),
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
    hold: (point, match, until, { maxMs = 3000, signal } = {}) =>
      new Promise((resolve) => {
        const bounded = Promise.race([until, new Promise((r) => setTimeout(r, maxMs))]);
        const pause = {
          point,
          match,
          ms: bounded,
          started: (label: string, args: unknown[]) => resolve({ label, args }),
        };
        pauses.push(pause);
        const drop = () => {
          const at = pauses.indexOf(pause);
          if (at >= 0) pauses.splice(at, 1);
          resolve(undefined);
        };
        const timer = setTimeout(drop, maxMs);
        signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          drop();
        });
      }),
    panel(action, duringRenewal) {
      const n = panelLog.length + 1;
      panelActing = `panel:${n}`;
      let entry: PanelEntry;
      const base = { n, action, wallMs: nowMs(), ...(duringRenewal && { duringRenewal }) };
      const was = action.what === "order" ? undefined : state.get(action.id);
      try {
        const licence =
          action.what === "renew"
            ? state.prolong(action.id, String(action.period)).licence
            : action.what === "suspend"
              ? state.suspend(action.id)
              : action.what === "delete"
                ? state.delete(action.id)
                : state.order({
                    ip: action.ip,
                    licname: action.name,
                    pricelist: action.pricelist,
                    period: String(action.period),
                    // As a reseller leaves it in the panel: the desk's watcher renews, not the vendor.
                    autoprolong: "null",
                  });
        entry = {
          ...base,
          ok: true,
          effective: was?.status !== licence.status || was.expiredate !== licence.expiredate,
          licenceId: licence.id,
          said: `licence ${licence.id} now status ${licence.status}, expires ${licence.expiredate}`,
        };
      } catch (error) {
        const id = action.what === "order" ? undefined : action.id;
        entry = {
          ...base,
          ok: false,
          effective: false,
          licenceId: id,
          said: `refused: ${(error as Error).message}`,
        };
      } finally {
        panelActing = undefined;
      }
      panelLog.push(entry);
      return entry;
    },
    panelLog,
    nightRuns: [],
    watcherSuccessorKeys,
    vendorBook: () => sandbox.state.list(),
    async close() {
      await sandbox.close();
      await agent.close();
    },
  };
  return world;
}
