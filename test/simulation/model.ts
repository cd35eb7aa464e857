import { isDeepStrictEqual } from "node:util";
import { errorReply, MONEY_SUCCESS, moneyAnswerReply } from "../../functions/lib/errors.ts";
import type { ChangeProductBody, OrderBody, RenewBody, SuccessorBody } from "../../shared/api/requests.ts";
import type { IsoDate } from "../../shared/domain/dates.ts";
import type { MoneyResult } from "../../shared/domain/licences/desk.ts";
import { API_SCOPE, type OpOutcome } from "./world.ts";

/**
 * The client's side of the simulation: what it asked (one intent per Idempotency-Key, grouped in chains
 * of keys that pursue one purchase), what it was answered, and what it does next, following the API's
 * answers literally:
 * - 2xx: done;
 * - 504 outcome_unknown, 409 outcome_pending / request_in_progress, 503 deadline_near or
 *   upstream_throttled, a money call provably not sent, no answer at all (the process died): the same
 *   key, later;
 * - 409 order_in_flight (another order for the IP awaits its outcome; nothing sent, the key is free):
 *   the same key, later;
 * - 409 order_not_placed / renewal_not_applied / product_change_not_applied: a new key is allowed (same
 *   body, same chain);
 * - anything else (refused, conflict, renewal in flight, lifecycle closed…): the chain stops.
 */

/** The client's money calls: the keys of MONEY_SUCCESS (a successor is an order; a change of product a renewal's like). */
export type IntentKind = "order" | "renew" | "successor" | "changeProduct";

export type IntentBody = OrderBody | RenewBody | SuccessorBody | ChangeProductBody;

export interface Answer {
  /** HTTP status; 0 when no answer came (the process serving it died). */
  status: number;
  code: string | undefined;
  body: unknown;
  replayed?: boolean;
  /** Answered by a process that was killed (the client saw no answer). */
  killedAt?: string;
  /** The operation that answered (world.op): a charge names the one whose call it was. */
  attempt?: number;
}

export type Next = "retry" | "new-key" | "done" | "stop";

export interface Intent {
  /** The API client (its token): keys are per client. */
  scope: string;
  key: string;
  kind: IntentKind;
  chain: number;
  body: IntentBody;
  /** The licence renewed, changed, or succeeded (for a successor: its predecessor). */
  licenceId: string | undefined;
  answers: Answer[];
  /** The first final answer (2xx, or not applied): every later one must repeat it. */
  final: Answer | undefined;
  next: Next;
}

export interface Chain {
  id: number;
  kind: IntentKind;
  keys: string[];
}

export interface Stats {
  runs: number;
  commands: number;
  apiCalls: number;
  /** 504 outcome_unknown answers. */
  lostAnswers: number;
  /** 409 outcome_pending answers. */
  pendingAnswers: number;
  notApplied: number;
  kills: number;
  killsAfterSend: number;
  /** Intents the reconciler settled (applied or not). */
  reconciled: number;
  reconciledApplied: number;
  nights: number;
  killedNights: number;
  concurrentNights: number;
  watcherCharges: number;
  charges: number;
  lateCharges: number;
  faults: number;
  mails: number;
  strongChecks: number;
  convergenceChecks: number;
  /** Unresolved intents left alone by a strong check because a dead process still leases them. */
  exempted: number;
  /** Violations of a known bug looked past (SIM_KNOWN). */
  knownHits: number;
  /** Actions in the vendor's panel (renew, suspend, delete, order), beside the desk. */
  panelActions: number;
  /** Reconciler passes that listed an intent while its call was in flight and reached it after. */
  reconcileRaces: number;
  /** Orders of an IP another key (or client) ordered too. */
  sameIpOrders: number;
  /** Intents left open after a reconciler pass, their evidence ambiguous and staff alerted. */
  undecided: number;
  /** Successor orders asked (`POST /licenses/{id}/successor`, each key once). */
  successorAsks: number;
  /** ISPmanager 6 licences the vendor placed for a successor intent (charged). */
  successorsPlaced: number;
  /** Changes of product asked (each key once). */
  productChangeAsks: number;
  /** Tariff changes the vendor applied for the desk (`service.changepricelist`, a 0 charge too). */
  productChanges: number;
  /** Succeeded licences the desk deleted at the vendor (retired: at once, or by a night). */
  retirements: number;
  /** Nights that kept a succeeded licence due for retirement, its successor not running (retire_held). */
  retireHeld: number;
  /** Successors planned for the watcher (`PATCH /licenses/{id}` with `successor`), or dropped, asked. */
  successorPlanAsks: number;
  /** Plans the desk stored (a plan, not a drop). */
  successorPlans: number;
  /** ISPmanager 6 licences the vendor placed (and charged) for a night's order of a planned successor. */
  watcherSuccessorsPlaced: number;
}

export const emptyStats = (): Stats => ({
  runs: 0,
  commands: 0,
  apiCalls: 0,
  lostAnswers: 0,
  pendingAnswers: 0,
  notApplied: 0,
  kills: 0,
  killsAfterSend: 0,
  reconciled: 0,
  reconciledApplied: 0,
  nights: 0,
  killedNights: 0,
  concurrentNights: 0,
  watcherCharges: 0,
  charges: 0,
  lateCharges: 0,
  faults: 0,
  mails: 0,
  strongChecks: 0,
  convergenceChecks: 0,
  exempted: 0,
  knownHits: 0,
  panelActions: 0,
  reconcileRaces: 0,
  sameIpOrders: 0,
  undecided: 0,
  successorAsks: 0,
  successorsPlaced: 0,
  productChangeAsks: 0,
  productChanges: 0,
  retirements: 0,
  retireHeld: 0,
  successorPlanAsks: 0,
  successorPlans: 0,
  watcherSuccessorsPlaced: 0,
});

export function addStats(into: Stats, from: Stats): void {
  for (const key of Object.keys(into) as (keyof Stats)[]) into[key] += from[key];
}

/** An alert the model knows must go out exactly once, and why. */
export interface ExpectedAlert {
  key: string;
  why: string;
}

/**
 * A licence the vendor suspended after its expiry (for non-payment), as a night wrote it: the desk tells
 * that in the licence's `expired` mail for that expiry (or `renewal_blocked`, lapsed), not as
 * `vendor_suspended`; owed once the watcher will not renew it (see checkLapsesTold).
 */
export interface LapseNews {
  id: string;
  expiresOn: IsoDate;
  night: IsoDate;
}

/**
 * A successor planned for the watcher, or dropped (`plan` null), as the desk stored it
 * (`PATCH /licenses/{id}` with `successor`, accepted): the plan a night carries out is the last one stored.
 */
export interface PlanEntry {
  licenceId: string;
  plan: { period: 1 | 12; product?: string; on?: IsoDate; retireOld: string } | null;
  /** On the world's clock, when the desk stored it. */
  wallMs: number;
}

export interface Sim {
  seq: number;
  intents: Intent[];
  byKey: Map<string, Intent>;
  chains: Chain[];
  /** Licence ids the client knows (the fleet, its orders, what the register shows). */
  licences: string[];
  /** The last night the watcher ran, if any. */
  night: IsoDate | undefined;
  /** A night whose run was killed: the schedule retries it (Lambda's async retry) before the next night. */
  owedRerun: IsoDate | undefined;
  /** Nights run at least once (their summary is expected once a run of theirs completes). */
  nights: Map<IsoDate, { at: Date; expected: ExpectedAlert[] }>;
  expectedAlerts: ExpectedAlert[];
  /** Suspensions after expiry not yet told (or not yet owed). */
  lapses: LapseNews[];
  /** Plans (and drops) the desk stored, in order. */
  plans: PlanEntry[];
  stats: Stats;
  /** What happened, one line per command, for the report of a failure. */
  log: string[];
}

export function newSim(licences: string[]): Sim {
  return {
    seq: 0,
    intents: [],
    byKey: new Map(),
    chains: [],
    licences,
    night: undefined,
    owedRerun: undefined,
    nights: new Map(),
    expectedAlerts: [],
    lapses: [],
    plans: [],
    stats: emptyStats(),
    log: [],
  };
}

/** A broken invariant: the message says which, with the facts. */
export class Violation extends Error {
  override readonly name = "Violation";
}

const SAME_KEY_LATER = new Set([
  "order_in_flight",
  "outcome_unknown",
  "outcome_pending",
  "request_in_progress",
  "deadline_near",
  "upstream_throttled",
  "upstream_timeout",
  "upstream_unavailable",
  "no_answer",
]);
const NEW_KEY = new Set(["order_not_placed", "renewal_not_applied", "product_change_not_applied"]);

export const isFinal = (a: Answer) => (a.status >= 200 && a.status < 300) || NEW_KEY.has(a.code ?? "");
export const saysNotApplied = (a: Answer) => NEW_KEY.has(a.code ?? "");

/** Answers that leave the outcome open: the money may have moved, or may still. */
const OUTCOME_OPEN = new Set([
  "no_answer",
  "outcome_unknown",
  "outcome_pending",
  "request_in_progress",
  "internal_error",
  "idempotency_key_reused",
]);

/**
 * The answer tells the client that this request charged nothing: a refusal (the desk's or the
 * vendor's: refused, insufficient balance, conflict, lifecycle closed, at the cap, renewal or order in
 * flight, renewal not wanted, deadline near, throttled at the door) or a settled "not applied".
 * Everything but the answers that leave the outcome open (and none that says `outcome: "unknown"`).
 */
export function saysNothingCharged(a: Answer): boolean {
  if (a.status < 400 || OUTCOME_OPEN.has(a.code ?? "no_answer")) return false;
  const body = a.body as { outcome?: string; error?: { details?: { outcome?: string } } } | undefined;
  return body?.outcome !== "unknown" && body?.error?.details?.outcome !== "unknown";
}

/** The desk's result as the client reads it over HTTP (the routes' own translation). */
export function answerOf(outcome: OpOutcome<MoneyResult>, kind: IntentKind): Answer {
  if (outcome.kind === "killed")
    return {
      status: 0,
      code: "no_answer",
      body: undefined,
      killedAt: outcome.point,
      ...(outcome.attempt !== undefined && { attempt: outcome.attempt }),
    };
  const attempt = outcome.attempt !== undefined ? { attempt: outcome.attempt } : {};
  if (outcome.kind === "ok") {
    const result = outcome.value;
    const reply = moneyAnswerReply(result, MONEY_SUCCESS[kind]);
    const code = result.outcome === "not_applied" ? result.refusal.code : undefined;
    return { status: reply.statusCode, code, body: reply.body, replayed: result.replayed, ...attempt };
  }
  const reply = errorReply(outcome.error);
  return { status: reply.statusCode, code: reply.body.error.code, body: reply.body, ...attempt };
}

export function nextStep(answer: Answer): Next {
  if (answer.status >= 200 && answer.status < 300) return "done";
  if (NEW_KEY.has(answer.code ?? "")) return "new-key";
  if (SAME_KEY_LATER.has(answer.code ?? "")) return "retry";
  return "stop";
}

export function newIntent(
  sim: Sim,
  kind: IntentKind,
  body: IntentBody,
  licenceId: string | undefined,
  chain?: Chain,
  scope: string = API_SCOPE,
): Intent {
  sim.seq += 1;
  const key = `sim-${sim.seq}`;
  const owner = chain ?? { id: sim.chains.length, kind, keys: [] };
  if (!chain) sim.chains.push(owner);
  owner.keys.push(key);
  const intent: Intent = {
    scope,
    key,
    kind,
    chain: owner.id,
    body,
    licenceId,
    answers: [],
    final: undefined,
    next: "retry",
  };
  sim.intents.push(intent);
  sim.byKey.set(key, intent);
  return intent;
}

const brief = (a: Answer) =>
  `${a.status}${a.code ? ` ${a.code}` : ""}${a.replayed ? " (replayed)" : ""}${a.killedAt ? ` [killed at ${a.killedAt}]` : ""}`;

/**
 * What the client makes of an answer, checking what an answer alone can tell: a decided key always
 * answers the same; no key is ever "reused with another body" (the client never does that); a healthy
 * process never answers 500.
 */
export function recordAnswer(sim: Sim, intent: Intent, answer: Answer, concurrent = false): void {
  intent.answers.push(answer);
  sim.stats.apiCalls += 1;
  if (answer.code === "outcome_unknown") sim.stats.lostAnswers += 1;
  if (answer.code === "outcome_pending") sim.stats.pendingAnswers += 1;
  if (saysNotApplied(answer)) sim.stats.notApplied += 1;
  sim.log.push(
    `    ${intent.kind} ${intent.key}${intent.licenceId ? ` (licence ${intent.licenceId})` : ""}: ${brief(answer)}`,
  );

  if (answer.code === "idempotency_key_reused") {
    throw new Violation(
      `${intent.key}: answered idempotency_key_reused, though the client always sends the same body`,
    );
  }
  if (answer.status === 500) {
    throw new Violation(
      `${intent.key}: a healthy process answered 500 ${answer.code}: ${JSON.stringify(answer.body)}`,
    );
  }
  if (answer.status === 0) {
    intent.next = "retry";
    return;
  }
  if (intent.final) {
    if (isFinal(answer)) {
      const same =
        answer.status === intent.final.status &&
        answer.code === intent.final.code &&
        isDeepStrictEqual(answer.body, intent.final.body);
      if (!same) {
        throw new Violation(
          `${intent.key}: decided as ${brief(intent.final)} ${JSON.stringify(intent.final.body)}, later answered ${brief(answer)} ${JSON.stringify(answer.body)}`,
        );
      }
    } else if (!concurrent) {
      throw new Violation(
        `${intent.key}: decided as ${brief(intent.final)}, later answered ${brief(answer)}`,
      );
    }
    return;
  }
  if (isFinal(answer)) intent.final = answer;
  intent.next = nextStep(answer);
}
