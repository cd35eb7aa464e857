import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { describeFailure, runCampaign, runSequence } from "./campaign.ts";
import { steps } from "./commands.ts";
import { Violation } from "./model.ts";

/**
 * The money rules proven by simulation: random sequences of API calls (new and repeated keys, several at
 * once), vendor misbehaviour, process kills at any await point, reconciler passes and watcher nights
 * (reruns, two copies, kills), against the vendor sandbox over real HTTP and the register on DynamoDB
 * Local, with the money invariants checked after every step (see checks.ts). Two bounded campaigns
 * here: a fixed seed, whose statistics prove the campaign is not vacuous, and a fresh seed each run
 * so a rule of the product that drifts from the model is caught by some run rather than
 * never; its seed is in the test's name, and SIM_SEED (with SIM_RUNS) replays it.
 * `npm run simulate -- --runs N --seed S` runs long ones.
 */
// Chosen again when successors and changes of product joined the commands (which changed every
// sequence a seed draws): 20_210_501's twelve runs then killed no process at all. And again when
// successors planned for the watcher joined them: 20_210_508's runs then had no late charge and no
// night ordered a plan; 20_210_510 is the first seed after it that meets every assertion below.
const FIXED_SEED = 20_210_510;
const FIXED_RUNS = 12;
const FRESH_SEED = Number(process.env.SIM_SEED ?? (Date.now() ^ (Math.random() * 0x7fffffff)) >>> 0);
const FRESH_RUNS = Number(process.env.SIM_RUNS ?? 8);
const MAX_COMMANDS = 12;
const endpoint = () => inject("dynamodbEndpoint");

beforeAll(() => {
  // The product logs every failed call and retried write; a campaign provokes hundreds on purpose.
  for (const method of ["error", "log", "warn"] as const)
    vi.spyOn(console, method).mockImplementation(() => {});
});
afterAll(() => vi.restoreAllMocks());

const campaign = async (seed: number, runs: number, panel = false) => {
  const result = await runCampaign({
    endpoint: endpoint(),
    runs,
    seed,
    maxCommands: MAX_COMMANDS,
    nights: true,
    panel,
    shrink: false,
  });
  if (result.failure) expect.fail(describeFailure(result));
  expect(result.stats.runs).toBe(runs);
  // Every run ends with two settle windows and reconciler passes, each checked.
  expect(result.stats.strongChecks).toBeGreaterThanOrEqual(2 * runs);
  expect(result.stats.knownHits).toBe(0);
  return result.stats;
};

describe("money simulation", () => {
  it(`random sequences keep every invariant (seed ${FIXED_SEED}, ${FIXED_RUNS} runs)`, async () => {
    const s = await campaign(FIXED_SEED, FIXED_RUNS);
    // Never vacuous: the campaign lost answers, killed processes, reconciled, ran nights, charged.
    expect(s.lostAnswers).toBeGreaterThan(0);
    expect(s.kills).toBeGreaterThan(0);
    expect(s.killsAfterSend).toBeGreaterThan(0);
    expect(s.reconciledApplied).toBeGreaterThan(0);
    expect(s.reconciled - s.reconciledApplied).toBeGreaterThan(0);
    expect(s.nights).toBeGreaterThan(0);
    expect(s.killedNights + s.concurrentNights).toBeGreaterThan(0);
    expect(s.watcherCharges).toBeGreaterThan(0);
    expect(s.lateCharges).toBeGreaterThan(0);
    expect(s.charges).toBeGreaterThan(s.watcherCharges);
    expect(s.convergenceChecks).toBeGreaterThan(0);
    // The newer money routes too: successors placed, tariffs changed, old licences retired.
    expect(s.successorsPlaced).toBeGreaterThan(0);
    expect(s.productChanges).toBeGreaterThan(0);
    expect(s.retirements).toBeGreaterThan(0);
    // Successors planned for a night, and ordered by one.
    expect(s.successorPlans).toBeGreaterThan(0);
    expect(s.watcherSuccessorsPlaced).toBeGreaterThan(0);
  }, 120_000);

  // With the world beside the desk: the reseller in the vendor's panel, a second key on one IP, the
  // reconciler racing refusals.
  it(`random sequences from a fresh seed keep every invariant, the vendor's panel acting too (seed ${FRESH_SEED}, ${FRESH_RUNS} runs; replay: SIM_SEED=${FRESH_SEED} SIM_RUNS=${FRESH_RUNS}, or npm run simulate -- --seed ${FRESH_SEED} --runs ${FRESH_RUNS} --max-commands ${MAX_COMMANDS} --panel)`, async () => {
    await campaign(FRESH_SEED, FRESH_RUNS, true);
  }, 120_000);
});

describe("the simulation finds the money bugs it is for, when they are put back", () => {
  const rejects = async (run: Promise<unknown>, pattern: RegExp) => {
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Violation);
    expect((error as Error).message).toMatch(pattern);
  };

  it("a lost answer that frees its key: the same-key retry charges again", async () => {
    await rejects(
      runSequence(
        endpoint(),
        [steps.fault("trickle", "renew"), steps.renew(0), steps.retry(0)],
        "forget-unknown",
      ),
      /charged 2 times|no record of it/,
    );
  });

  it("an outcome judged before the settle window: the vendor acts late, after 'not applied'", async () => {
    await rejects(
      runSequence(
        endpoint(),
        // Acting 1.5 s after the caller gave up: long after the immediate retry, whatever the machine's load.
        [steps.fault("act-late", "renew", 1500), steps.renew(0), steps.retry(0)],
        "no-settle-window",
      ),
      /completed(?: as |\/)not.applied.* the vendor charged it|told renewal_not_applied/,
    );
  });

  it("the same sequences hold on the product as it is", async () => {
    await runSequence(endpoint(), [steps.fault("trickle", "renew"), steps.renew(0), steps.retry(0)]);
    const late = await runSequence(endpoint(), [
      steps.fault("act-late", "renew", 150),
      steps.renew(0),
      steps.retry(0),
    ]);
    expect(late.stats.lostAnswers).toBe(1);
    expect(late.stats.pendingAnswers).toBeGreaterThan(0);
  });

  // The first ISPmanager 5 licence (expiring 2021-05-03) gets a successor, to go after its expiry; the
  // successor is suspended; the night of 2021-05-04 is due to retire the old one.
  const retireWhileSuspended = [
    steps.successor(0, { retireOld: "after_expiry" }),
    steps.suspendSuccessor(0),
    steps.night("next", 3),
  ];

  it("a retirement that takes the successor as running: the old licence deleted while its successor is suspended", async () => {
    await rejects(
      runSequence(endpoint(), retireWhileSuspended, "retire-unchecked"),
      /deleted licence \d+ at the vendor .* before its successor ran there/,
    );
  });

  it("a change of product whose answer was lost is charged once: the same key answers it, never sends again", async () => {
    const lost = [steps.fault("act-then-hang", "change"), steps.changeProduct(0), steps.retry(0)];
    await rejects(runSequence(endpoint(), lost, "forget-unknown"), /charged 2 times|no record of it/);
    const { stats } = await runSequence(endpoint(), lost);
    expect(stats.lostAnswers).toBe(1);
    expect(stats.productChanges).toBe(1);
  });

  it("two keys ordering a successor of one licence at once place one, and a third is refused", async () => {
    const spec = {
      pick: 0,
      target: "gen5" as const,
      period: 1 as const,
      retireOld: "after_expiry" as const,
      product: "default" as const,
      autoRenew: undefined,
    };
    const { stats, log } = await runSequence(endpoint(), [
      steps.concurrently({ op: "twin-successor", spec }),
      steps.successor(0, { retireOld: "after_expiry" }),
    ]);
    expect(stats.successorsPlaced).toBe(1);
    expect(log.join("\n")).toMatch(/successor sim-3 \(licence \d+\): 409 successor_exists/);
  });

  // A licence ordered in the vendor's panel: the next night writes it from its list row, then reads its form.
  const panelOrdered = [
    steps.panel({ what: "order", pick: 0, target: "fresh", name: "own" }),
    steps.night("next", 1),
  ];

  it("a watcher that never has time for its forms leaves a licence without its key, and the last night says so", async () => {
    await rejects(
      runSequence(endpoint(), panelOrdered, "forms-never"),
      /after the last night: licence \d+ still has its form to read \(formPending\)/,
    );
  });

  it("on the product as it is, the form of a licence first seen in the list is read the night it is found", async () => {
    await runSequence(endpoint(), panelOrdered);
  });

  // The manual licence (expiring 2021-05-04) gets a successor planned for 2021-05-06, retired at once.
  const plannedLater = [
    steps.plan(1, { on: 5, retireOld: "now" }),
    steps.night("next", 1),
    steps.night("next", 3),
    steps.night("next", 2),
  ];

  it("a watcher that forgets a plan's night orders it on the default one, before the night it named", async () => {
    await rejects(
      runSequence(endpoint(), plannedLater, "plan-early"),
      /night 2021-05-02 ordered a successor of licence \d+ .* before the night its plan named, 2021-05-06/,
    );
  });

  it("on the product as it is, the plan is ordered on the first night from its own, once, and retires the old licence", async () => {
    const { stats, log } = await runSequence(endpoint(), plannedLater);
    expect(stats.watcherSuccessorsPlaced).toBe(1);
    expect(stats.retirements).toBe(1);
    expect(log.join("\n")).toMatch(/night 2021-05-07: .*planned successors ordered \d+->\d+/);
  });

  it("the same sequence holds on the product as it is: the night keeps the old licence (retire_held)", async () => {
    const { stats } = await runSequence(endpoint(), retireWhileSuspended);
    expect(stats.successorsPlaced).toBe(1);
    expect(stats.retireHeld).toBeGreaterThan(0);
    expect(stats.retirements).toBe(0);
  });
});

describe("regressions: bugs the simulation found (each failed here before its fix)", () => {
  /**
   * A renewal whose money call was refused at the door (429, never sent) freed the licence's renewal
   * hold, then its key; a process killed between the two left the key "sent, outcome unknown" with the
   * licence free. The watcher renewed the licence that night; the reconciler then read the very expiry
   * the dead renewal expected, settled it as applied, and its client was answered 200 for a renewal it
   * never paid for (the watcher's one month counted twice). Found by a campaign, shrunk to this.
   */
  it("a renewal killed between freeing its licence and freeing its key is never mistaken for the watcher's", async () => {
    const { log } = await runSequence(endpoint(), [
      steps.fault("throttle", "renew"),
      steps.kill({ op: "renew", pick: 0, period: 1 }, "idempotency.freeLicence", "during"),
      steps.night("next", 1),
      steps.repeat(0),
    ]);
    expect(log.join("\n")).toMatch(
      /killed at idempotency\.freeLicence[\s\S]*night 2021-05-02: renewed 2512171/,
    );
  });

  /**
   * The reconciler completed an unanswered order as placed, then recorded its "order settled" alert: a
   * pass killed between the two left the order completed (no later pass sees it again) and the alert
   * never recorded, so staff never learnt that the client may hold two licences. Found by a campaign
   * (killed as the completion was written), shrunk to this.
   */
  it("a reconciler killed as it settles an order as placed still alerts staff", async () => {
    const { log } = await runSequence(endpoint(), [
      steps.fault("act-then-hang", "order"),
      steps.order(),
      steps.kill({ op: "reconcile" }, "idempotency.complete", "during"),
      steps.night("next", 1),
    ]);
    expect(log.join("\n")).toMatch(
      /order sim-1: 504 outcome_unknown[\s\S]*reconciler pass: killed at idempotency\.complete/,
    );
  });

  /**
   * The watcher re-checks the suspend mark right before it sends a renewal; a suspend through the API
   * that landed while that renewal was at the vendor was then overwritten by the renewal's answer, which
   * wrote status "active" whatever the licence's state: after the night the register said active
   * (suspendedBy "desk") while the vendor had it suspended. Found by the nights with a reseller's change.
   */
  it("a licence suspended through the API while the watcher renews it stays suspended in the register", async () => {
    const { log } = await runSequence(endpoint(), [
      steps.fault("slow", "renew", 150),
      steps.night("next", 1, { what: "suspend", pick: 0, autoRenew: null, delayMs: 0, after: "prolong" }),
    ]);
    // The suspend is refused (nothing sent) while the renewal is on its way: the renewal would undo it.
    expect(log.join("\n")).toMatch(
      /during the night, suspend 2512171: licence 2512171: a renewal of this licence is in flight[\s\S]*renewed 2512171/,
    );
  });

  /**
   * The night's sync reads a licence's form, then writes the vendor's fields at the version it read.
   * A suspend through the API landing in between bumped the version; the sync read the record again
   * and decided again, but from the form it read before the suspend: it wrote status "active"
   * (statusCode 2) over the suspension. After the night the register said active (suspendedBy "desk")
   * while the vendor had it suspended. Found by a campaign with two night copies; here the sync's write is held
   * 200 ms so the suspend lands exactly in between.
   */
  it("a suspend through the API while the night's sync writes the licence is not undone by the sync", async () => {
    const { log } = await runSequence(endpoint(), [
      steps.fault("no-expiry+throttled-read", "renew"),
      steps.renew(1),
      steps.night("next", 1, { what: "suspend", pick: 1, autoRenew: null, delayMs: 0, after: "sync-write" }),
    ]);
    expect(log.join("\n")).toMatch(/during the night, suspend 2512172: ok/);
    expect(log.join("\n")).not.toMatch(/never wrote licence/);
  });
});

describe("bugs the simulation found, each failing before its fix", () => {
  /**
   * The night's sync reads the record first, then the licence's form. A suspend through the API landing
   * between the two makes the form say "suspended" while the record read says active and not
   * suspended by us: the sync raises (records, then sends) "Suspended by the vendor ... we did not
   * suspend it" before its write loses to the suspend's. Here the form read is held 200 ms at the
   * vendor so the suspend lands in between. Fixed: a suspend marks the register before it calls the
   * vendor, and the sync reads the mark again before it tells of a suspension.
   */
  it("a suspend through the API during the night's sync is never alerted as the vendor's", async () => {
    const { log } = await runSequence(endpoint(), [
      steps.fault("no-expiry+throttled-read", "renew"),
      steps.renew(1),
      steps.vendorFault("soft.edit", "slow", 200),
      steps.night("next", 1, { what: "suspend", pick: 1, autoRenew: null, delayMs: 20, after: "form-read" }),
    ]);
    expect(log.join("\n")).toMatch(/during the night, suspend 2512172: ok/);
  });

  /**
   * A licence that lapsed is suspended by the vendor for non-payment, and the watcher renews it. A
   * suspend through the API landing while that renewal is at the vendor changes nothing there (it is
   * suspended already), and the renewal then reactivates it: the vendor has it active, the register
   * keeps "suspended (desk)". The licence ran although the reseller suspended it. Found by a campaign
   * (seed 15); here the renewal is held 150 ms at the vendor and the other due licence is switched off,
   * so the suspend lands in it. Fixed: a suspend holds the licence against renewals, and is refused
   * (409 renewal_in_flight, nothing sent) while one is on its way.
   */
  it("a suspend through the API while the watcher renews a lapsed licence leaves it suspended at the vendor", async () => {
    const { log } = await runSequence(endpoint(), [
      steps.change("autoRenew", 2, null),
      steps.fault("slow", "renew", 150),
      steps.night("next", 3, { what: "suspend", pick: 0, autoRenew: null, delayMs: 0, after: "prolong" }),
    ]);
    // The suspend is refused (nothing sent) while the renewal is on its way: the renewal would undo it.
    expect(log.join("\n")).toMatch(
      /during the night, suspend 2512171: licence 2512171: a renewal of this licence is in flight[\s\S]*renewed 2512171/,
    );
  });
});

/**
 * The world beside the desk (`npm run simulate -- --panel`). Each sequence breaks an invariant
 * on the product as it is (the violation is quoted); each is un-skipped with its fix.
 */
describe("what the simulation found with --panel, each a few steps (each failed before its fix)", () => {
  // "a money call made by reconciler as it resumed intent reseller|sim-1, which must never send one:
  // service.prolong of licence 2512171 ... (its client was told: 402 insufficient_balance)"
  it("a reconciler pass that listed a renewal in flight never sends it after the vendor refused it", async () => {
    const { log } = await runSequence(endpoint(), [steps.reconcileRace({ kind: "renew", pick: 0 }, "funds")]);
    expect(log.join("\n")).toMatch(
      /402 insufficient_balance\n.*the reconciler pass reached it after its answer/,
    );
  });

  // "... soft.order.param of licence 2512175 ... (its client was told: 503 upstream_throttled)"
  it("a reconciler pass that listed an order in flight never sends it after a 429 at the door", async () => {
    const { log } = await runSequence(endpoint(), [steps.reconcileRace({ kind: "order" }, "throttle")]);
    expect(log.join("\n")).toMatch(
      /503 upstream_throttled\n.*the reconciler pass reached it after its answer/,
    );
  });

  // The two cases the vendor's records cannot tell apart (docs/api.md): the desk's call never reached
  // the vendor, and the reseller did the very same thing in the panel meanwhile. Settled as applied with
  // the panel's licence: one charge in all, the licence the client asked for.
  it("a panel renewal to the exact expiry an unanswered renewal expected settles it as applied: one charge in all", async () => {
    const { stats } = await runSequence(endpoint(), [
      steps.fault("timeout", "renew"),
      steps.renew(0),
      steps.panel({ what: "renew", pick: 0, target: "pending", period: 1 }),
    ]);
    expect(stats.exempted).toBeGreaterThan(0);
  });

  it("a panel order of the same product, IP and name settles an unanswered order as applied: one charge in all", async () => {
    const { stats } = await runSequence(endpoint(), [
      steps.fault("timeout", "order"),
      steps.order(),
      steps.panel({ what: "order", pick: 0, target: "order-ip", name: "same" }),
    ]);
    expect(stats.exempted).toBeGreaterThan(0);
  });

  // "intent reseller|sim-1 completed as applied ({"id":"2512175",...}) but the vendor never charged it"
  it("a second client's order of the same IP is never claimed by the first order's reconciliation", async () => {
    await runSequence(endpoint(), [
      steps.fault("timeout", "order"),
      steps.order(),
      steps.sameIpOrder("after-race"),
    ]);
  });

  // "after the settle window and a reconciler pass, intent reseller-b|sim-2 is completed/not_applied though
  // the vendor charged it: soft.order.param of licence 2512175 ... fault act-then-drop"
  it("two unanswered orders of one IP: the licence goes to the order that paid for it", async () => {
    await runSequence(endpoint(), [
      steps.fault("act-then-drop", "order"),
      steps.fault("timeout", "order"),
      steps.sameIpOrder("crossed"),
    ]);
  });

  // "the watcher renewed licence 2512171 on night 2021-05-03 after the reseller's renew of it in the vendor's
  // panel (... expires 2021-06-03), made while the watcher held that renewal"
  it("the watcher never renews a licence renewed in the vendor's panel after its plan", async () => {
    await runSequence(endpoint(), [steps.nightWithPanel("renew", 2)]);
  });

  // "the watcher renewed licence 2512171 (watcher:2021-05-03), which the vendor had suspended on purpose"
  it("the watcher never renews a licence suspended in the vendor's panel after its plan", async () => {
    await runSequence(endpoint(), [steps.nightWithPanel("suspend", 2)]);
  });

  // "the watcher renewed licence 2512174 (watcher:2021-05-11), which the vendor had suspended on purpose
  // (... expiry 2021-05-09)"
  it("the watcher never renews a licence suspended in the panel before its expiry, once it lapsed", async () => {
    await runSequence(endpoint(), [
      steps.panel({ what: "suspend", pick: 3, target: "any" }),
      steps.night("next", 1),
      steps.night("next", 9),
    ]);
  });

  // "after the settle window and a reconciler pass, intent reseller|sim-1 (renew) is still unknown ...: its
  // evidence may be ambiguous (the reseller's renew of licence 2512171 in the vendor's panel), but staff
  // were never alerted (outcome_undecided) to settle it by hand"
  it("a renewal whose expiry a panel renewal moved elsewhere is undecided, and staff are told", async () => {
    await runSequence(endpoint(), [
      steps.fault("timeout", "renew"),
      steps.renew(0),
      steps.panel({ what: "renew", pick: 0, target: "any", period: 12 }),
    ]);
  });

  // Found by a long campaign (seed 101): "intent reseller|sim-5 (renew) is still unknown ...: its evidence
  // may be ambiguous (the reseller's delete of licence 2512175 in the vendor's panel), but staff were never
  // alerted (outcome_undecided)". A deleted licence has no expiry left to read.
  it("a renewal whose licence was deleted in the panel before it was answered goes to staff", async () => {
    const { stats } = await runSequence(endpoint(), [
      steps.fault("timeout", "renew"),
      steps.renew(0),
      steps.panel({ what: "delete", pick: 0, target: "pending" }),
    ]);
    expect(stats.undecided).toBeGreaterThan(0);
  });

  // Found by long campaigns (seeds 303 and 404): a licence suspended in the vendor's panel after the last
  // night before its expiry reads as a lapse, and the watcher renews it; the vendor keeps it suspended. The
  // register said "active" (the renewal assumed it ran again) and staff were not told it stays down.
  it("a panel-suspended licence the watcher renews as a lapse stays suspended in the register, and staff are told", async () => {
    await runSequence(endpoint(), [
      steps.panel({ what: "suspend", pick: 0, target: "any" }),
      steps.night("next", 3),
      steps.night("next", 1),
    ]);
  });

  // "after night 2021-05-02: licence 2512175 is deleted at the vendor, active in the register"
  it("a rerun of the night syncs a panel change made after the API wrote the licence", async () => {
    await runSequence(endpoint(), [
      steps.night("next", 1),
      steps.order(),
      steps.panel({ what: "delete", pick: 4, target: "any" }),
      steps.night("rerun"),
    ]);
  });

  // "after night 2021-05-02: licence 2512172 differs from the vendor's book: status 2 (active) vs the
  // vendor's 3"
  it("a renewal through the API of a licence suspended in the panel leaves it suspended in the register", async () => {
    await runSequence(endpoint(), [
      steps.night("next", 1),
      steps.panel({ what: "suspend", pick: 1, target: "any" }),
      steps.renew(1),
      steps.night("rerun"),
    ]);
  });
});
