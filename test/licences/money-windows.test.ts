import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type BillingClient, BillmgrUnavailableError } from "../../shared/adapters/billmgr/index.ts";
import type { DeskDeps } from "../../shared/domain/licences/context.ts";
import { licenceDesk } from "../../shared/domain/licences/desk.ts";
import { openOutcomes, settleOutcome } from "../../shared/domain/licences/operator.ts";
import { reconcileUnresolved } from "../../shared/domain/licences/reconciler.ts";
import type { IdempotencyRecord } from "../../shared/domain/ports/intent-store.ts";
import type { Register } from "../../shared/domain/ports/register.ts";
import { fleetLicence, type WatchHarness, watchHarness } from "../support/watcher.ts";

/**
 * The money windows where a refused, stale or ambiguous call could be charged or told wrong, each over real HTTP against the sandbox and on DynamoDB Local, with the
 * desk's clock injected (settle windows and locks move with it, nothing sleeps), counting the vendor's
 * money calls and the money it charged.
 */

/** A door that holds whoever waits on it until it is opened. */
function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  let waiting = 0;
  return {
    async pass() {
      waiting++;
      await opened;
    },
    open,
    waiting: () => waiting,
  };
}

/** The vendor client, with each money call held at `money` on its way out (after the desk marked it sent). */
function heldBilling(billing: BillingClient, money: ReturnType<typeof gate>): BillingClient {
  return {
    ...billing,
    async prolong(...args) {
      await money.pass();
      return billing.prolong(...args);
    },
    async order(...args) {
      await money.pass();
      return billing.order(...args);
    },
  };
}

/** The register, with a reconciler's list of unresolved intents held at `listed` once it has been read. */
function heldList(register: Register, listed: ReturnType<typeof gate>, seen: IdempotencyRecord[]): Register {
  return {
    ...register,
    idempotency: {
      ...register.idempotency,
      async unresolved(limit) {
        const records = await register.idempotency.unresolved(limit);
        seen.push(...records);
        await listed.pass();
        return records;
      },
    },
  };
}

const START = Date.parse("2021-05-01T10:00:00Z");
let h: WatchHarness;
let clock: { ms: number };
beforeEach(async () => {
  h = await watchHarness({ now: "2021-05-01", tablePrefix: "windows" });
  clock = { ms: START };
});
afterEach(() => h.close());

const deskDeps = (overrides: Partial<DeskDeps> = {}): DeskDeps => ({
  billing: h.billing,
  register: h.register,
  catalogue: h.deps.catalogue,
  idempotency: { ttlSeconds: 48 * 3600, lockMs: 120_000, settleMs: 900_000 },
  nowMs: () => clock.ms,
  ...overrides,
});
const now = () => new Date(clock.ms);
const charges = async (func: string) => (await h.vendor.state()).charges.filter((c) => c.func === func);
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as Error & { code?: string },
  );

describe("only the holder of a live intent ever sends", () => {
  it("a reconciler pass that listed a renewal in flight never sends it after its refusal (402, then topped up)", async () => {
    const id = await h.seed(fleetLicence({ name: "b", ip: "10.1.0.2", expiredate: "2021-05-10" }));
    await h.vendor.setBalance(0);
    const money = gate();
    const listed = gate();
    const seen: IdempotencyRecord[] = [];
    const client = licenceDesk(deskDeps({ billing: heldBilling(h.billing, money) }), {
      client: "panel",
      now: now(),
    });
    // The client's renewal is sent (marked so in the register) and held on its way to the vendor.
    const renewal = failure(client.renew(id, { period: 1 }, "renew-b"));
    await expect.poll(() => money.waiting()).toBe(1);
    expect((await h.register.idempotency.find("panel", "renew-b"))?.sentAt).toBeDefined();

    // A pass lists it while it is in flight, and is held there.
    clock.ms += 3600_000;
    const pass = reconcileUnresolved(
      deskDeps({
        billing: heldBilling(h.billing, money),
        register: heldList(h.register, listed, seen),
      }),
      now(),
    );
    await expect.poll(() => listed.waiting()).toBe(1);
    expect(seen.map((r) => r.key)).toEqual(["renew-b"]);

    // The vendor refuses it for want of money: the client is told nothing was charged, the key freed.
    money.open();
    expect((await renewal)?.message).toMatch(/insufficient|balance|funds/i);
    expect(await h.register.idempotency.find("panel", "renew-b")).toBeUndefined();
    await h.vendor.setBalance(100_000);

    // The pass reaches it after the refusal: nothing to settle, nothing sent.
    listed.open();
    const report = await pass;
    expect(report.settled).toEqual([]);
    expect(h.prolongs()).toBe(1);
    expect(await charges("service.prolong")).toEqual([]);
    expect(await h.register.idempotency.find("panel", "renew-b")).toBeUndefined();
  });

  it("a reconciler pass that listed an order in flight never places it after the vendor refused it at the door (429)", async () => {
    await h.vendor.fault("soft.order.param", "throttle");
    const money = gate();
    const listed = gate();
    const seen: IdempotencyRecord[] = [];
    const deps = deskDeps({ billing: heldBilling(h.billing, money) });
    const order = failure(
      licenceDesk(deps, { client: "panel", now: now() }).order(
        { ip: "10.1.0.3", name: "c", product: "ispmanager5-lite", period: 1, autoRenew: null },
        "order-c",
      ),
    );
    await expect.poll(() => money.waiting()).toBe(1);
    clock.ms += 3600_000;
    const pass = reconcileUnresolved({ ...deps, register: heldList(h.register, listed, seen) }, now());
    await expect.poll(() => listed.waiting()).toBe(1);
    expect(seen.map((r) => r.key)).toEqual(["order-c"]);

    money.open();
    expect((await order)?.name).toBe("BillmgrThrottledError");
    listed.open();
    expect((await pass).settled).toEqual([]);
    expect(h.vendor.calls("soft.order.param")).toBe(1);
    expect(await charges("soft.order.param")).toEqual([]);
    expect(h.vendor.sandbox.state.list()).toEqual([]);
  });
});

describe("the watcher's open renewals are settled, never sent", () => {
  it("an open renewal whose record is freed between the night's read of it and its settling is not sent again", async () => {
    // Renewed elsewhere since: the night no longer renews it, and settles tonight's open renewal.
    const id = await h.seed(
      fleetLicence({ name: "open", ip: "10.1.0.4", expiredate: "2021-09-01", autoRenew: 1 }),
    );
    const night = "2021-05-01";
    const key = `watch:${id}:${night}`;
    const store = h.register.idempotency;
    const lock = clock.ms + 1000;
    await store.claim(
      {
        scope: "watcher",
        key,
        requestHash: "x",
        operation: "renew",
        request: { operation: "renew", id, body: { period: 1 } },
        lockedUntil: lock,
        expiresAt: Math.floor(clock.ms / 1000) + 3600,
      },
      clock.ms,
    );
    await store.markSent("watcher", key, { licenceId: id }, clock.ms, lock);
    await h.register.nights.begin(
      night,
      {
        licenceId: id,
        name: "open",
        outcome: "started",
        from: "2021-05-03",
        to: undefined,
        period: 1,
        reason: "due",
        detail: undefined,
        run: "a-run-that-died",
        leaseUntil: lock,
        at: now().toISOString(),
      },
      clock.ms,
    );
    clock.ms += 10 * 60_000;
    // Its call is refused and its key freed right after this night reads the record.
    const register: Register = {
      ...h.register,
      idempotency: {
        ...store,
        async find(scope, k) {
          const record = await store.find(scope, k);
          if (k === key) await store.release(scope, k);
          return record;
        },
      },
    };
    const report = await h.run(night, { ...h.deps, register, nowMs: () => clock.ms });
    expect(h.prolongs()).toBe(0);
    expect(report.renewed).toEqual([]);
    expect(report.renewedElsewhere).toEqual([]);
    const entry = (await h.register.nights.read(night)).renewals.find((r) => r.licenceId === id);
    expect(entry?.outcome).toBe("skipped");
  });
});

describe("smaller windows", () => {
  it("autoRenew switched off after the renewal's first check and before its send: nothing is sent", async () => {
    const id = await h.seed(
      fleetLicence({ name: "switch", ip: "10.1.0.5", expiredate: "2021-05-03", autoRenew: 1 }),
    );
    const api = licenceDesk(deskDeps(), { client: "panel", now: now() });
    // The reseller's PATCH lands while the watcher reads the vendor's form, after its first check.
    const billing: BillingClient = {
      ...h.billing,
      async get(...args) {
        const form = await h.billing.get(...args);
        await api.update(id, { autoRenew: null });
        return form;
      },
    };
    const watcher = licenceDesk(deskDeps({ billing }), { client: "watcher", now: now() });
    const error = await failure(
      watcher.renew(id, { period: 1 }, `watch:${id}:2021-05-01`, { onlyIfAutoRenew: true }),
    );
    expect(error?.code).toBe("renewal_not_wanted");
    expect(error?.message).toMatch(/automatic renewal was switched off/);
    expect(h.prolongs()).toBe(0);
    expect(await h.register.idempotency.find("watcher", `watch:${id}:2021-05-01`)).toBeUndefined();
    // The licence is free: a renewal by hand goes through.
    expect((await api.renew(id, { period: 1 }, "by-hand")).outcome).toBe("applied");
    expect(await charges("service.prolong")).toHaveLength(1);
  });

  it("a secret store that fails before a money call: refused with nothing sent, never unknown", async () => {
    const id = await h.seed(fleetLicence({ name: "ssm", ip: "10.1.0.6", expiredate: "2021-05-03" }));
    const throttled = Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
    const billing = h.vendor.client(
      { BILLMGR_RETRIES: "0" },
      { credentials: { get: () => Promise.reject(throttled), refresh: () => {} } },
    );
    const desk = licenceDesk(deskDeps({ billing }), { client: "panel", now: now() });
    const error = await failure(desk.renew(id, { period: 1 }, "ssm-down"));
    expect(error?.name).toBe("BillmgrCredentialsError");
    expect(error?.message).toMatch(/credentials could not be read \(ThrottlingException\); nothing was sent/);
    expect(await h.register.idempotency.find("panel", "ssm-down")).toBeUndefined();
    expect(h.vendor.sandbox.calls.length).toBe(0);
    // The same key, once the store answers: sent once, charged once.
    const ok = licenceDesk(deskDeps(), { client: "panel", now: now() });
    expect((await ok.renew(id, { period: 1 }, "ssm-down")).outcome).toBe("applied");
    expect(await charges("service.prolong")).toHaveLength(1);
  });

  it("an applied renewal holds its licence until its answer is kept", async () => {
    const id = await h.seed(fleetLicence({ name: "kept", ip: "10.1.0.7", expiredate: "2021-05-03" }));
    const store = h.register.idempotency;
    let keepFails = true;
    const register: Register = {
      ...h.register,
      idempotency: {
        ...store,
        complete: (...args) => (keepFails ? Promise.reject(new Error("throttled")) : store.complete(...args)),
      },
    };
    const desk = () => licenceDesk(deskDeps({ register }), { client: "panel", now: now() });
    expect((await desk().renew(id, { period: 1 }, "first")).outcome).toBe("applied");
    expect((await store.find("panel", "first"))?.status).toBe("applied");
    // Its answer is not kept yet: another renewal of the licence waits.
    expect((await failure(desk().renew(id, { period: 1 }, "second")))?.code).toBe("renewal_in_flight");
    keepFails = false;
    expect(await desk().renew(id, { period: 1 }, "first")).toMatchObject({
      outcome: "applied",
      replayed: true,
    });
    expect((await desk().renew(id, { period: 1 }, "second")).outcome).toBe("applied");
    expect(await charges("service.prolong")).toHaveLength(2);
  });

  it("a watcher renewal the reconciler settles is kept 30 days, like one the watcher completes", async () => {
    const id = await h.seed(fleetLicence({ name: "ttl", ip: "10.1.0.8", expiredate: "2021-05-03" }));
    await h.vendor.fault("service.prolong", "act-then-drop");
    const key = `watch:${id}:2021-05-01`;
    const watcher = licenceDesk(deskDeps(), { client: "watcher", now: now() });
    expect((await failure(watcher.renew(id, { period: 1 }, key)))?.code).toBe("outcome_unknown");
    clock.ms += 900_000;
    const report = await reconcileUnresolved(deskDeps(), now());
    expect(report.settled).toMatchObject([{ key, outcome: "applied" }]);
    const record = await h.register.idempotency.find("watcher", key);
    expect(record?.expiresAt).toBe(Math.floor(clock.ms / 1000) + 30 * 86_400);
    expect(await charges("service.prolong")).toHaveLength(1);
  });
});

describe("a renewal is decided on the vendor's own form, read just before sending", () => {
  /** The watcher's deps with the injected clock; `beforeRenewals` runs once, as the renew phase begins. */
  const watcherDeps = (beforeRenewals?: () => Promise<void>) => {
    let once = beforeRenewals;
    const nights = h.register.nights;
    const register: Register = {
      ...h.register,
      nights: {
        ...nights,
        async begin(...args) {
          const run = once;
          once = undefined;
          await run?.();
          return nights.begin(...args);
        },
      },
    };
    return { ...h.deps, register, nowMs: () => clock.ms };
  };
  const sentKinds = () => (h.notifier as unknown as { sent: { kind: string }[] }).sent.map((a) => a.kind);

  it("imported by a refresh at noon, renewed in the vendor's panel, then that night: one prolong, one charge", async () => {
    // The issue's reproduction: the desk's clock at noon of the night replayed.
    const id = h.seedVendorOnly(
      fleetLicence({ name: "imported", ip: "10.2.0.1", expiredate: "2021-05-04", autoRenew: 1 }),
    );
    const api = licenceDesk(deskDeps(), { client: "panel", now: new Date("2021-05-01T12:00:00Z") });
    expect((await api.get(id, true)).expiresOn).toBe("2021-05-04");
    await api.update(id, { autoRenew: 1 });
    clock.ms += 60_000;
    await h.billing.prolong(id, 1); // in the vendor's panel
    clock.ms += 60_000;
    const report = await h.run("2021-05-01", watcherDeps());
    expect(report.renewed).toEqual([]);
    expect(h.prolongs()).toBe(1);
    expect(await charges("service.prolong")).toHaveLength(1);
    expect((await h.record(id))?.expiresOn).toBe("2021-06-04");
  });

  it("a rename by the desk after the sync's read keeps its name, never the vendor's older expiry", async () => {
    const id = await h.seed(
      fleetLicence({ name: "renamed", ip: "10.2.0.2", expiredate: "2021-05-03", autoRenew: 1 }),
    );
    await h.billing.prolong(id, 12); // in the vendor's panel: runs to 2021-12-31 (the cap)
    const readFrom = clock.ms;
    // The desk renames it a moment after the night's reads began (by the same clock).
    clock.ms += 5_000;
    await licenceDesk(deskDeps(), { client: "panel", now: now() }).update(id, { name: "renamed-2" });
    const deps = { ...watcherDeps(), nowMs: () => readFrom };
    const report = await h.run("2021-05-01", deps);
    expect(report.renewed).toEqual([]);
    expect(h.prolongs()).toBe(1);
    const record = await h.record(id);
    expect(record).toMatchObject({ name: "renamed-2", expiresOn: "2021-12-31" });
  });

  it("renewed in the vendor's panel between the night's sync and its renewal: not renewed again, and the summary says why", async () => {
    const id = await h.seed(
      fleetLicence({ name: "panel-renewed", ip: "10.2.0.3", expiredate: "2021-05-03", autoRenew: 1 }),
    );
    const report = await h.run(
      "2021-05-01",
      watcherDeps(async () => {
        await h.billing.prolong(id, 1);
      }),
    );
    expect(report.renewed).toEqual([]);
    expect(report.skipped).toEqual([
      {
        id,
        name: "panel-renewed",
        reason: expect.stringMatching(/renewed elsewhere: the vendor's form shows it running to 2021-06-03/),
      },
    ]);
    expect(h.prolongs()).toBe(1);
    expect(await charges("service.prolong")).toHaveLength(1);
    expect((await h.record(id))?.expiresOn).toBe("2021-06-03");
    const summary = (h.notifier as unknown as { sent: { kind: string; body: string }[] }).sent.find(
      (a) => a.kind === "summary",
    );
    expect(summary?.body).toMatch(
      /Not renewed after all \(1\):\n {2}panel-renewed \(id \d+\): .*renewed elsewhere/,
    );
  });

  it("suspended in the vendor's panel before its expiry, after the night's sync: not renewed, and staff told", async () => {
    const id = await h.seed(
      fleetLicence({ name: "panel-suspended", ip: "10.2.0.4", expiredate: "2021-05-03", autoRenew: 1 }),
    );
    const report = await h.run(
      "2021-05-01",
      watcherDeps(async () => {
        await h.billing.suspend(id);
      }),
    );
    expect(report.renewed).toEqual([]);
    expect(h.prolongs()).toBe(0);
    expect(await h.record(id)).toMatchObject({ status: "suspended", statusCode: "3" });
    expect(sentKinds()).toContain("vendor_suspended");
    // The next night's sync finds the register as the vendor has it: no second mail.
    const next = await h.run("2021-05-02", watcherDeps());
    expect(next.sent.filter((a) => a.kind === "vendor_suspended")).toEqual([]);
  });

  it("suspended in the vendor's panel before its expiry: never renewed as a lapse once its expiry passes", async () => {
    const id = await h.seed(
      fleetLicence({ name: "held-back", ip: "10.2.0.6", expiredate: "2021-05-05", autoRenew: 1 }),
    );
    await h.billing.suspend(id); // in the vendor's panel, before the night
    await h.run("2021-05-01", watcherDeps());
    expect(await h.record(id)).toMatchObject({ status: "suspended", suspendedOn: "2021-05-01" });
    expect(sentKinds()).toContain("vendor_suspended");
    // Its expiry passes while it stays suspended: still the reseller's suspension, not a lapse to renew.
    const lapsed = await h.run("2021-05-07", watcherDeps());
    expect(lapsed.renewed).toEqual([]);
    expect(lapsed.blocked).toMatchObject([{ id, why: "suspended_before_expiry" }]);
    expect(h.prolongs()).toBe(0);
  });

  it("suspended in the vendor's panel, then expired without autoRenew: the mail never calls it non-payment nor says a renewal resumes it", async () => {
    const id = await h.seed(fleetLicence({ name: "held-manual", ip: "10.2.0.11", expiredate: "2021-05-05" }));
    await h.billing.suspend(id); // in the vendor's panel, while it runs
    await h.run("2021-05-01", watcherDeps());
    await h.run("2021-05-07", watcherDeps());
    const expired = (
      h.notifier as unknown as { sent: { kind: string; licenceId: string; body: string }[] }
    ).sent.find((a) => a.kind === "expired" && a.licenceId === id);
    expect(expired?.body).toContain(
      "the desk first saw it suspended 6 days ago (2021-05-01). It was not renewed.",
    );
    expect(expired?.body).toContain("a renewal does not resume a licence suspended on purpose");
    expect(expired?.body).toMatch(
      /What to do: Check it in the vendor's panel; if it should run, resume it there first/,
    );
    expect(expired?.body).not.toContain("non-payment");
  });

  it("suspended in the vendor's panel and read first by a refresh through the API: staff told once, never renewed as a lapse", async () => {
    const id = await h.seed(
      fleetLicence({ name: "refreshed", ip: "10.2.0.8", expiredate: "2021-05-05", autoRenew: 1 }),
    );
    await h.billing.suspend(id); // in the vendor's panel
    const api = licenceDesk(deskDeps(), { client: "panel", now: new Date("2021-05-01T12:00:00Z") });
    expect(await api.get(id, true)).toMatchObject({ status: "suspended", suspendedOn: "2021-05-01" });
    // The night's sync finds the register as the vendor has it, and still the news is owed.
    const night = await h.run("2021-05-02", watcherDeps());
    expect(night.sent.filter((a) => a.kind === "vendor_suspended")).toHaveLength(1);
    const lapsed = await h.run("2021-05-07", watcherDeps());
    expect(lapsed.sent.filter((a) => a.kind === "vendor_suspended")).toEqual([]);
    expect(lapsed.renewed).toEqual([]);
    expect(lapsed.blocked).toMatchObject([{ id, why: "suspended_before_expiry" }]);
    expect(h.prolongs()).toBe(0);
    expect(await charges("service.prolong")).toEqual([]);
  });

  it("suspended in the vendor's panel, then renewed through the API and still suspended: staff told by the next night", async () => {
    const id = await h.seed(
      fleetLicence({ name: "renewed-held", ip: "10.2.0.9", expiredate: "2021-05-03", autoRenew: 1 }),
    );
    await h.billing.suspend(id); // in the vendor's panel
    const api = licenceDesk(deskDeps(), { client: "panel", now: now() });
    const answer = await api.renew(id, { period: 1 }, "renew-held");
    expect(answer).toMatchObject({
      outcome: "applied",
      licence: { status: "suspended", expiresOn: "2021-06-03", suspendedOn: "2021-05-01" },
    });
    expect(sentKinds()).not.toContain("vendor_suspended");
    const night = await h.run("2021-05-02", watcherDeps());
    expect(night.sent.filter((a) => a.kind === "vendor_suspended")).toHaveLength(1);
    // Paid to 2021-06-03 and suspended on purpose: not renewed again when that expiry passes.
    const lapsed = await h.run("2021-06-05", watcherDeps());
    expect(lapsed.renewed).toEqual([]);
    expect(h.prolongs()).toBe(1);
    expect(await charges("service.prolong")).toHaveLength(1);
  });

  it("suspended in the vendor's panel unseen until its expiry, renewed as a lapse and still suspended: told, and never renewed again", async () => {
    const id = await h.seed(
      fleetLicence({ name: "lapse-held", ip: "10.2.0.10", expiredate: "2021-05-03", autoRenew: 1 }),
    );
    // In the vendor's panel, with no night before its expiry to see it: the next night reads a lapse.
    await h.billing.suspend(id);
    const first = await h.run("2021-05-05", watcherDeps());
    expect(first.renewed).toMatchObject([{ id }]);
    expect(await h.record(id)).toMatchObject({
      status: "suspended",
      expiresOn: "2021-06-03",
      suspendedOn: "2021-05-05",
    });
    const told = first.sent.filter((a) => a.kind === "vendor_suspended");
    expect(told).toHaveLength(1);
    expect(told[0]?.body).toContain(
      "Tonight's renewal was charged and runs it to 2021-06-03, but the vendor keeps it suspended",
    );
    // Renewed and still suspended is suspended on purpose: its next expiry is no lapse to renew.
    const later = await h.run("2021-06-05", watcherDeps());
    expect(later.renewed).toEqual([]);
    expect(later.blocked).toMatchObject([{ id, why: "suspended_before_expiry" }]);
    expect(h.prolongs()).toBe(1);
    expect(await charges("service.prolong")).toHaveLength(1);
  });

  it("a lapsed licence renewed with no expiry in the answer and no form to read is taken as running again", async () => {
    const id = await h.seed(
      fleetLicence({ name: "lapsed", ip: "10.2.0.7", expiredate: "2021-05-01", autoRenew: 1 }),
    );
    await h.vendor.fault("service.prolong", "no-expiry");
    let prolonged = false;
    const billing: BillingClient = {
      ...h.billing,
      async prolong(...args) {
        prolonged = true;
        return h.billing.prolong(...args);
      },
      async get(...args) {
        if (prolonged) throw new BillmgrUnavailableError("soft.edit", "HTTP 429", "not_applied");
        return h.billing.get(...args);
      },
    };
    // The vendor suspended it for non-payment on its expiry; the night renews it, and the vendor resumes it.
    const report = await h.run("2021-05-03", { ...h.deps, billing, nowMs: () => clock.ms });
    expect(report.renewed.map((r) => r.id)).toEqual([id]);
    expect(h.vendorLicence("lapsed")?.status).toBe("2");
    expect(await h.record(id)).toMatchObject({
      status: "active",
      formPending: true,
      expiresOn: "2021-06-01",
    });
  });

  it("deleted in the vendor's panel after the night's sync: not renewed, and staff told", async () => {
    const id = await h.seed(
      fleetLicence({ name: "panel-deleted", ip: "10.2.0.5", expiredate: "2021-05-03", autoRenew: 1 }),
    );
    await h.run(
      "2021-05-01",
      watcherDeps(async () => {
        await h.billing.delete(id);
      }),
    );
    expect(h.prolongs()).toBe(0);
    expect((await h.record(id))?.status).toBe("deleted");
    expect(sentKinds()).toContain("vendor_deleted");
  });
});

describe("orders: one in flight per IP and product line, and evidence only a new row", () => {
  const lite = (ip: string, name: string) =>
    ({ ip, name, product: "ispmanager5-lite", period: 1, autoRenew: null }) as const;
  const orderCalls = () => h.vendor.calls("soft.order.param");

  it("a licence ordered in the vendor's panel that morning is never taken for an unanswered order's", async () => {
    const panel = await h.billing.order({
      ip: "10.3.0.1",
      name: "web",
      pricelist: "3541",
      period: 1,
      autoprolong: null,
    });
    await h.vendor.fault("soft.order.param", "drop");
    const desk = () => licenceDesk(deskDeps(), { client: "panel", now: now() });
    const first = await failure(desk().order(lite("10.3.0.1", "web"), "morning"));
    clock.ms += 900_000;
    const again = await failure(desk().order(lite("10.3.0.1", "web"), "morning"));
    // Refused before sending, by the vendor's own check of the IP: never "placed" with the panel's licence.
    for (const answer of [first, again]) expect(answer).toMatchObject({ type: "exists", object: "ip" });
    expect(orderCalls()).toBe(1);
    expect(await charges("soft.order.param")).toHaveLength(1);
    expect(await h.register.idempotency.licenceIdOwners([panel.id])).toEqual(new Map());
  });

  it("two keys ordering one IP: the second is refused while the first awaits its outcome, so each answer is its own", async () => {
    await h.vendor.fault("soft.order.param", "act-then-drop");
    const a = licenceDesk(deskDeps(), { client: "billing-a", now: now() });
    const b = licenceDesk(deskDeps(), { client: "billing-b", now: now() });
    expect((await failure(a.order(lite("10.3.0.2", "shop"), "a-1")))?.code).toBe("outcome_unknown");
    const second = await failure(b.order(lite("10.3.0.2", "shop"), "b-1"));
    expect(second).toMatchObject({
      code: "order_in_flight",
      details: { ip: "10.3.0.2", outcome: "not_applied" },
    });
    expect(second?.message).toMatch(
      /nothing was sent or charged.*check GET \/licenses for a licence on 10\.3\.0\.2/,
    );
    expect(orderCalls()).toBe(1);
    // B retries first, after the settle window: still A's to settle, nothing sent.
    clock.ms += 900_000;
    expect((await failure(b.order(lite("10.3.0.2", "shop"), "b-1")))?.code).toBe("order_in_flight");
    const placed = await a.order(lite("10.3.0.2", "shop"), "a-1");
    expect(placed.outcome).toBe("applied");
    // Settled: the slot is free, and B's order reaches the vendor, which refuses it (the IP is taken).
    expect(await failure(b.order(lite("10.3.0.2", "shop"), "b-1"))).toMatchObject({ type: "exists" });
    expect(orderCalls()).toBe(1);
    expect(await charges("soft.order.param")).toHaveLength(1);
  });

  it("an unanswered order whose only new licence was deleted since is left to staff, never 'not placed'", async () => {
    await h.vendor.fault("soft.order.param", "act-then-drop");
    const desk = () => licenceDesk(deskDeps(), { client: "panel", now: now() });
    expect((await failure(desk().order(lite("10.3.0.3", "gone"), "k")))?.code).toBe("outcome_unknown");
    const [row] = h.vendor.sandbox.state.list();
    await h.billing.delete(row?.id ?? "");
    clock.ms += 900_000;
    const answer = await failure(desk().order(lite("10.3.0.3", "gone"), "k"));
    expect(answer?.code).toBe("outcome_pending");
    expect(answer?.message).toMatch(/is deleted \(licence \d+ \("gone", deleted\)\): it may be this order's/);
    expect(await charges("soft.order.param")).toHaveLength(1);
  });
});

describe("undecided outcomes have an owner", () => {
  /** A renewal whose answer was lost, then the licence renewed in the vendor's panel: neither before nor expected. */
  async function undecidedRenewal(name: string, ip: string, client = "panel", key = `k-${name}`) {
    const id = await h.seed(fleetLicence({ name, ip, expiredate: "2021-05-10" }));
    await h.vendor.fault("service.prolong", "drop");
    const desk = () => licenceDesk(deskDeps(), { client, now: now() });
    expect((await failure(desk().renew(id, { period: 1 }, key)))?.code).toBe("outcome_unknown");
    await h.billing.prolong(id, 12); // the vendor's panel: 2021-05-10 -> 2022-05-10... capped to 2021-12-31
    return { id, key, desk };
  }

  it("an expiry that moved elsewhere: staff told at once with the facts, the licence held, the call listed", async () => {
    const { id, key, desk } = await undecidedRenewal("moved", "10.4.0.1");
    clock.ms += 900_000;
    const pending = await failure(desk().renew(id, { period: 1 }, key));
    expect(pending?.code).toBe("outcome_pending");
    expect(pending?.message).toMatch(
      /expiry of licence \d+ is 2021-12-31, neither 2021-05-10 \(before the renewal\) nor 2021-06-10 \(the renewal applied\); staff have been alerted to settle it/,
    );
    const record = await h.register.idempotency.find("panel", key);
    expect(record?.undecided).toEqual({ reason: expect.stringMatching(/neither/), since: clock.ms });
    const [alert] = await h.register.alerts.pending();
    expect(alert).toMatchObject({ subject: `intent:panel:${key}`, kind: "outcome_undecided" });
    const mail = JSON.parse(alert?.payload ?? "{}") as { body: string; severity: string };
    expect(mail.severity).toBe("critical");
    expect(mail.body).toContain("Expiry before the renewal:       2021-05-10");
    expect(mail.body).toContain("Expiry had the renewal applied:  2021-06-10");
    expect(mail.body).toContain("Expiry the vendor shows now:     2021-12-31");
    expect(mail.body).toContain(
      `- settle the outcome: POST /outcomes/${encodeURIComponent(key)} with {"client": "panel", "outcome": "applied" or "not_applied"`,
    );
    // Held: no other renewal of it goes out until someone settles it.
    expect((await failure(desk().renew(id, { period: 1 }, "other")))?.code).toBe("renewal_in_flight");
    expect(h.prolongs()).toBe(2);
  });

  it("an operator settles it: audited, the hold freed, the client's retry answered from it; others may not", async () => {
    const { id, key, desk } = await undecidedRenewal("settled", "10.4.0.2");
    clock.ms += 900_000;
    await failure(desk().renew(id, { period: 1 }, key));
    // Past the lease that retry took to read the evidence.
    clock.ms += 60_000;
    const deps = deskDeps();
    const operators = ["ops"];
    const operator = { client: "ops", now: now() };
    expect(await openOutcomes(deps, operators, "ops", "undecided")).toMatchObject([
      { client: "panel", key, operation: "renew", licenceId: id, state: "undecided" },
    ]);
    const verdict = {
      client: "panel",
      key,
      outcome: "not_applied" as const,
      reason: "no charge on 2021-05-01",
    };
    expect(
      (await failure(settleOutcome(deps, operators, { ...operator, client: "panel" }, verdict)))?.code,
    ).toBe("forbidden");
    const settled = await settleOutcome(deps, operators, operator, verdict);
    expect(settled).toMatchObject({ outcome: "not_applied", answer: { outcome: "not_applied" } });
    const retry = await desk().renew(id, { period: 1 }, key);
    expect(retry).toMatchObject({ outcome: "not_applied", refusal: { code: "renewal_not_applied" } });
    expect(retry.outcome === "not_applied" && retry.refusal.message).toMatch(
      /settled by operator "ops" as not applied: no charge on 2021-05-01/,
    );
    expect((await failure(settleOutcome(deps, operators, operator, verdict)))?.code).toBe("outcome_settled");
    const [entry] = await h.register.audit.forLicence(id, 1);
    expect(entry).toMatchObject({
      client: "ops",
      operation: "settle-outcome",
      params: { client: "panel", key, outcome: "not_applied", reason: "no charge on 2021-05-01" },
    });
    // The hold is free: a new renewal passes it, to be refused on its merits (the panel's renewal
    // took the licence to the cap), never as in flight.
    expect((await failure(desk().renew(id, { period: 1 }, "fresh")))?.code).toBe("already_at_cap");
    expect(h.prolongs()).toBe(2);
    expect(await openOutcomes(deps, operators, "ops", "undecided")).toEqual([]);
  });

  it("the reconciler never lets undecided ones starve newer ones, and records each alert as it decides it", async () => {
    const stuck = await undecidedRenewal("stuck-a", "10.4.0.3", "panel", "stuck-a");
    await undecidedRenewal("stuck-b", "10.4.0.4", "panel", "stuck-b");
    clock.ms += 60_000;
    const fresh = await h.seed(fleetLicence({ name: "fresh", ip: "10.4.0.5", expiredate: "2021-05-10" }));
    await h.vendor.fault("service.prolong", "act-then-drop");
    const desk = licenceDesk(deskDeps(), { client: "panel", now: now() });
    expect((await failure(desk.renew(fresh, { period: 1 }, "fresh")))?.code).toBe("outcome_unknown");
    clock.ms += 900_000;
    const options = { limit: 2, staleAfterMs: 24 * 3600_000 };
    const first = await reconcileUnresolved(deskDeps(), now(), options);
    expect(first).toMatchObject({ settled: [], undecided: 2 });
    clock.ms += 60_000;
    const second = await reconcileUnresolved(deskDeps(), now(), options);
    expect(second.settled).toMatchObject([{ key: "fresh", outcome: "applied" }]);
    // An undecided one goes on being looked at, never sent.
    clock.ms += 60_000;
    expect((await reconcileUnresolved(deskDeps(), now(), options)).undecided).toBe(2);
    expect(h.prolongs()).toBe(5);
    expect(stuck.id).toBeDefined();
  });

  it("a pass records each alert as it decides it: one cut short loses none", async () => {
    const ids = [
      await h.seed(fleetLicence({ name: "stale-1", ip: "10.4.0.6", expiredate: "2021-05-10" })),
      await h.seed(fleetLicence({ name: "stale-2", ip: "10.4.0.7", expiredate: "2021-05-10" })),
    ];
    const desk = licenceDesk(deskDeps(), { client: "panel", now: now() });
    for (const [n, id] of ids.entries()) {
      await h.vendor.fault("service.prolong", "drop");
      expect((await failure(desk.renew(id, { period: 1 }, `stale-${n + 1}`)))?.code).toBe("outcome_unknown");
      clock.ms += 1000;
    }
    clock.ms += 25 * 3600_000;
    // The vendor cannot be read for either; the second read is held until the test has looked.
    const held = gate();
    const billing: BillingClient = {
      ...h.billing,
      async get(id, ...rest) {
        if (id === ids[1]) await held.pass();
        if (ids.includes(id)) throw new BillmgrUnavailableError("soft.edit", "HTTP 429", "not_applied");
        return h.billing.get(id, ...rest);
      },
    };
    const pass = reconcileUnresolved(deskDeps({ billing }), now());
    await expect.poll(() => held.waiting()).toBe(1);
    // Killed here, the pass would already have left the first one's alert to send.
    expect((await h.register.alerts.pending()).map((a) => `${a.subject}|${a.kind}`)).toEqual([
      "intent:panel:stale-1|outcome_stale",
    ]);
    held.open();
    expect((await pass).stale.map((s) => s.key)).toEqual(["stale-1", "stale-2"]);
    expect(h.prolongs()).toBe(2);
  });

  it("the night's summary names every licence an undecided renewal holds, with what to do", async () => {
    const { id, key, desk } = await undecidedRenewal("held", "10.4.0.8");
    clock.ms += 900_000;
    await failure(desk().renew(id, { period: 1 }, key));
    await h.run("2021-05-01", { ...h.deps, nowMs: () => clock.ms });
    const summary = (
      h.notifier as unknown as { sent: { kind: string; body: string; severity: string }[] }
    ).sent.find((a) => a.kind === "summary");
    expect(summary?.severity).toBe("warning");
    expect(summary?.body).toMatch(
      new RegExp(
        `Held by a renewal staff must settle \\(1\\):\\n  held \\(id ${id}\\): the vendor's expiry of licence ${id} is 2021-12-31, neither 2021-05-10 .*\\n    No renewal or suspend of it is sent until it is settled\\. Check the vendor's panel, then settle it as applied or not applied\\.\\n    How, through the desk's API:\\n    - settle the outcome: POST /outcomes/${key}`,
      ),
    );
  });
});
