import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDynamoRegister } from "../../shared/adapters/dynamodb/register.ts";
import {
  IdempotencyKeyReusedError,
  OutcomePendingError,
  OutcomeUnknownError,
  RequestInProgressError,
} from "../../shared/domain/licences/errors.ts";
import {
  type Evidence,
  type MoneyIntent,
  type MoneyOperation,
  notApplied,
  resumeIntent,
  runMoneyIntent,
} from "../../shared/domain/licences/outcome-model.ts";
import {
  BillmgrTimeoutError,
  BillmgrUnavailableError,
  BillmgrVendorError,
} from "../../shared/domain/ports/billing-errors.ts";
import { type IdempotencyStore, KeyContendedError } from "../../shared/domain/ports/intent-store.ts";
import type { Register } from "../../shared/domain/ports/register.ts";
import { dynamoClient, freshTable } from "../support/dynamodb.ts";
import { licenceRecord } from "../support/fixtures.ts";

/**
 * The outcome model on DynamoDB Local: every way a money call can end, a repeat with the same key in
 * each state, the settle window, and a process killed at every await point, counting sends exactly.
 */
let register: Register;
const client = dynamoClient(inject("dynamodbEndpoint"));
beforeAll(async () => {
  register = createDynamoRegister({ client, tableName: await freshTable(client, "intent") });
});
afterAll(() => client.destroy());

const SETTLE_MS = 60_000;
const LOCK_MS = 30_000;

/** A vendor of one money call: how often it was sent, whether it acted, what the evidence shows. */
class FakeVendor {
  sends = 0;
  applied = 0;
  reads = 0;
  /** What the next send does. */
  next: "ok" | "refuse" | "not_sent" | "act_then_lose" | "lose" = "ok";
  /** The evidence read fails (throttled) while set. */
  unreadable = false;

  operation(hooks: Partial<MoneyOperation> = {}): MoneyOperation {
    return {
      prepare: async () => ({
        context: { before: "2021-06-01", expected: "2021-07-01" },
        send: async () => {
          this.sends++;
          const what = this.next;
          this.next = "ok";
          if (what === "refuse")
            throw new BillmgrVendorError("service.prolong", "balance", "account", "no funds");
          if (what === "not_sent")
            throw new BillmgrUnavailableError("service.prolong", "refused", "not_applied");
          if (what === "lose") throw new BillmgrTimeoutError("service.prolong", 100, "unknown");
          this.applied++;
          if (what === "act_then_lose") throw new BillmgrTimeoutError("service.prolong", 100, "unknown");
          return { newExpiry: "2021-07-01" };
        },
      }),
      applied: async (facts) => licenceRecord({ id: "7", expiresOn: facts.newExpiry ?? "?" }),
      reconcile: async (context): Promise<Evidence> => {
        this.reads++;
        if (this.unreadable) throw new BillmgrUnavailableError("soft.edit", "HTTP 429", "not_applied");
        return this.applied > 0
          ? { kind: "applied", facts: { newExpiry: context.expected ?? "" } }
          : notApplied("renewal_not_applied", "not applied");
      },
      released: async () => {},
      ...hooks,
    };
  }
}

let keys = 0;
function setup(store: IdempotencyStore = register.idempotency) {
  const clock = { now: Date.parse("2021-05-20T10:00:00Z") };
  const key = `k-${++keys}`;
  const intent = (s = store): MoneyIntent => ({
    operation: "renew",
    store: s,
    settings: { ttlSeconds: 48 * 3600, lockMs: LOCK_MS, settleMs: SETTLE_MS },
    ref: { scope: "panel", key },
    request: { operation: "renew", id: "7", body: { period: 1 } },
    nowMs: () => clock.now,
  });
  return { clock, key, intent, vendor: new FakeVendor() };
}

describe("applied", () => {
  it("sends once, then replays the answer to every repeat", async () => {
    const { intent, vendor } = setup();
    const first = await runMoneyIntent(intent(), vendor.operation());
    const again = await runMoneyIntent(intent(), vendor.operation());
    expect(first).toEqual({
      outcome: "applied",
      licence: licenceRecord({ id: "7", expiresOn: "2021-07-01" }),
      replayed: false,
    });
    expect(again).toEqual({ ...first, replayed: true });
    expect(vendor.sends).toBe(1);
  });

  it("twenty concurrent requests with one key send once", async () => {
    const { intent, vendor } = setup();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => runMoneyIntent(intent(), vendor.operation())),
    );
    expect(vendor.sends).toBe(1);
    for (const r of results) {
      if (r.status === "rejected") expect(r.reason).toBeInstanceOf(RequestInProgressError);
    }
  });

  it("a failure after the vendor answered OK never turns it into not applied", async () => {
    const { intent, vendor, key } = setup();
    const op = vendor.operation({
      applied: async () => {
        throw new Error("register throttled");
      },
    });
    await expect(runMoneyIntent(intent(), op)).rejects.toThrow("register throttled");
    const record = await register.idempotency.find("panel", key);
    expect(record).toMatchObject({ status: "applied", facts: { newExpiry: "2021-07-01" } });
    // The repeat builds the answer from the recorded facts: applied, never sent again.
    const again = await runMoneyIntent(intent(), vendor.operation());
    expect(again).toMatchObject({ outcome: "applied", licence: { expiresOn: "2021-07-01" } });
    expect(vendor.sends).toBe(1);
  });

  it("the same key with another request is refused", async () => {
    const { intent, vendor } = setup();
    await runMoneyIntent(intent(), vendor.operation());
    await expect(
      runMoneyIntent({ ...intent(), request: { other: true } }, vendor.operation()),
    ).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
  });
});

describe("refused or never sent: the key is freed", () => {
  it.each(["refuse", "not_sent"] as const)("%s: the same key may send again", async (what) => {
    const { intent, vendor, key } = setup();
    vendor.next = what;
    await expect(runMoneyIntent(intent(), vendor.operation())).rejects.toThrow();
    expect(await register.idempotency.find("panel", key)).toBeUndefined();
    await runMoneyIntent(intent(), vendor.operation());
    expect([vendor.sends, vendor.applied]).toEqual([2, 1]);
  });

  it("a check that fails before sending frees the key and sends nothing", async () => {
    const { intent, vendor, key } = setup();
    const op = vendor.operation({
      prepare: async () => {
        throw new Error("lifecycle closed");
      },
    });
    await expect(runMoneyIntent(intent(), op)).rejects.toThrow("lifecycle closed");
    expect(await register.idempotency.find("panel", key)).toBeUndefined();
    expect(vendor.sends).toBe(0);
  });
});

describe("unknown: pending for the settle window, then decided on evidence", () => {
  it("a late apply is found after the window; the early repeat is told to wait, not to use a new key", async () => {
    const { intent, vendor, clock, key } = setup();
    vendor.next = "lose";
    const lost = await runMoneyIntent(intent(), vendor.operation()).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(OutcomeUnknownError);
    expect((lost as OutcomeUnknownError).retryAfterSeconds).toBe(SETTLE_MS / 1000);

    clock.now += 5_000;
    const early = await runMoneyIntent(intent(), vendor.operation()).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(OutcomePendingError);
    expect((early as OutcomePendingError).retryAfterSeconds).toBe(55);
    expect((early as Error).message).not.toMatch(/new Idempotency-Key\b(?!, which)/);
    expect(vendor.reads).toBe(0);

    vendor.applied++; // the vendor carries out the lost call, late
    clock.now += SETTLE_MS;
    const settled = await runMoneyIntent(intent(), vendor.operation());
    expect(settled).toMatchObject({ outcome: "applied", replayed: true });
    expect(vendor.sends).toBe(1);
    const record = await register.idempotency.find("panel", key);
    expect(record).toMatchObject({ status: "completed", outcome: "applied" });
  });

  it("not applied is said only after the window, and then the answer is final", async () => {
    const { intent, vendor, clock } = setup();
    vendor.next = "lose";
    await runMoneyIntent(intent(), vendor.operation()).catch(() => {});
    clock.now += SETTLE_MS + 1;
    const settled = await runMoneyIntent(intent(), vendor.operation());
    expect(settled).toMatchObject({ outcome: "not_applied", refusal: { code: "renewal_not_applied" } });
    expect(await runMoneyIntent(intent(), vendor.operation())).toEqual(settled);
    expect(vendor.sends).toBe(1);
  });

  it("settled as not applied, it frees what it holds only once that answer is kept", async () => {
    const { intent, vendor, clock, key } = setup();
    vendor.next = "lose";
    await runMoneyIntent(intent(), vendor.operation()).catch(() => {});
    clock.now += SETTLE_MS + 1;
    let released = 0;
    const counting = vendor.operation({
      released: async () => {
        released++;
      },
    });
    // The register refuses to keep the answer: the intent stays open, and so does its hold.
    const failing: IdempotencyStore = {
      ...register.idempotency,
      complete: async () => {
        throw new Error("throttled");
      },
    };
    await runMoneyIntent(intent(failing), counting);
    expect(released).toBe(0);
    expect(await register.idempotency.find("panel", key)).toMatchObject({ status: "unknown" });
    // Kept on the next pass (once the first pass's lease has run out): now freed.
    clock.now += 31_000;
    await runMoneyIntent(intent(), counting);
    expect(released).toBe(1);
    expect(vendor.sends).toBe(1);
  });

  it("a throttled evidence read keeps it pending (never 'not applied'), and the key is never freed", async () => {
    const { intent, vendor, clock, key } = setup();
    vendor.next = "act_then_lose";
    await runMoneyIntent(intent(), vendor.operation()).catch(() => {});
    clock.now += SETTLE_MS + 1;
    vendor.unreadable = true;
    await expect(runMoneyIntent(intent(), vendor.operation())).rejects.toBeInstanceOf(OutcomePendingError);
    const record = await register.idempotency.find("panel", key);
    expect(record).toMatchObject({ status: "unknown" });
    expect(record?.expiresAt).toBeUndefined();
    vendor.unreadable = false;
    clock.now += 31_000; // past the first reconcile's lease
    expect(await runMoneyIntent(intent(), vendor.operation())).toMatchObject({ outcome: "applied" });
    expect(vendor.sends).toBe(1);
  });

  it("unresolved intents are listed for the reconciler, oldest first, and leave the list when decided", async () => {
    const { intent, vendor, clock, key } = setup();
    vendor.next = "lose";
    await runMoneyIntent(intent(), vendor.operation()).catch(() => {});
    expect((await register.idempotency.unresolved(1000)).map((r) => r.key)).toContain(key);
    clock.now += SETTLE_MS + 1;
    const record = await register.idempotency.find("panel", key);
    await resumeIntent(intent(), vendor.operation(), record as NonNullable<typeof record>);
    expect((await register.idempotency.unresolved(1000)).map((r) => r.key)).not.toContain(key);
  });

  it("two reconcilers at once: one decides, and both answer the same", async () => {
    const { intent, vendor, clock } = setup();
    vendor.next = "act_then_lose";
    await runMoneyIntent(intent(), vendor.operation()).catch(() => {});
    clock.now += SETTLE_MS + 1;
    const answers = await Promise.allSettled([
      runMoneyIntent(intent(), vendor.operation()),
      runMoneyIntent(intent(), vendor.operation()),
    ]);
    const done = answers.filter((a) => a.status === "fulfilled");
    expect(done.length).toBeGreaterThanOrEqual(1);
    for (const a of answers)
      if (a.status === "rejected") expect(a.reason).toBeInstanceOf(OutcomePendingError);
    expect(vendor.sends).toBe(1);
  });
});

describe("the process dies", () => {
  it("before sending: after its lock, the repeat runs it (once)", async () => {
    const { intent, vendor, clock, key } = setup();
    await register.idempotency.claim(
      {
        scope: "panel",
        key,
        requestHash: (await import("../../shared/domain/licences/outcome-model.ts")).requestHash(
          intent().request,
        ),
        operation: "renew",
        request: intent().request,
        lockedUntil: clock.now + LOCK_MS,
        expiresAt: clock.now / 1000 + 3600,
      },
      clock.now,
    );
    await expect(runMoneyIntent(intent(), vendor.operation())).rejects.toBeInstanceOf(RequestInProgressError);
    clock.now += LOCK_MS + 1;
    expect(await runMoneyIntent(intent(), vendor.operation())).toMatchObject({ outcome: "applied" });
    expect(vendor.sends).toBe(1);
  });

  /**
   * A kill at every await point of the first request (each store write and the vendor call), then
   * repeats with the same key on a healthy process until the answer is final: never a second send,
   * and the final answer matches what the vendor did.
   */
  it("at any await point: never sent twice, and the final answer is what the vendor did", async () => {
    const STORE_METHODS = ["claim", "markSent", "markUnknown", "markApplied", "complete", "release"] as const;
    for (let killAt = 1; killAt <= 8; killAt++) {
      for (const vendorDoes of ["ok", "act_then_lose", "lose"] as const) {
        const { intent, vendor, clock } = setup();
        vendor.next = vendorDoes;
        // Once killed, the process is gone: every later step of it fails too.
        let steps = 0;
        let dead = false;
        const kill = () => {
          if (dead || ++steps === killAt) {
            dead = true;
            throw new Error("KILLED");
          }
        };
        const dying = Object.create(register.idempotency) as IdempotencyStore;
        for (const m of STORE_METHODS) {
          const real = register.idempotency[m].bind(register.idempotency) as (
            ...a: unknown[]
          ) => Promise<unknown>;
          (dying as unknown as Record<string, unknown>)[m] = async (...args: unknown[]) => {
            kill();
            const result = await real(...args);
            kill();
            return result;
          };
        }
        const op = vendor.operation();
        const sendOp: MoneyOperation = {
          ...op,
          prepare: async () => {
            const p = await op.prepare();
            return {
              ...p,
              send: async () => {
                kill();
                return p.send();
              },
            };
          },
        };
        await runMoneyIntent(intent(dying), sendOp).catch(() => {});

        let final: Awaited<ReturnType<typeof runMoneyIntent>> | undefined;
        for (let attempt = 0; attempt < 6 && !final; attempt++) {
          clock.now += Math.max(LOCK_MS, SETTLE_MS) + 31_000;
          final = await runMoneyIntent(intent(), vendor.operation()).catch(() => undefined);
        }
        const where = `kill at ${killAt}, vendor ${vendorDoes}`;
        expect(final, where).toBeDefined();
        expect(vendor.applied, where).toBeLessThanOrEqual(1);
        expect(vendor.sends, where).toBeLessThanOrEqual(1);
        expect(final?.outcome, where).toBe(vendor.applied === 1 ? "applied" : "not_applied");
      }
    }
  });
});

/** A point where a step waits until let go; `reached` resolves once it waits there. */
function pausePoint() {
  let arrive: () => void = () => {};
  let letGo: () => void = () => {};
  const reached = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  const gone = new Promise<void>((resolve) => {
    letGo = resolve;
  });
  return {
    reached,
    letGo: () => letGo(),
    async wait() {
      arrive();
      await gone;
    },
  };
}

describe("a holder that outlived its lock", () => {
  it("never frees the claim of the holder that took it over, nor what that one holds", async () => {
    const { intent, vendor, clock, key } = setup();
    let released = 0;
    // The first holder's check runs so long that its lock passes and a retry takes the key over.
    const check = pausePoint();
    const slow = vendor.operation({
      prepare: async () => {
        await check.wait();
        throw new Error("lifecycle closed, found late");
      },
      released: async () => {
        released++;
      },
    });
    const first = runMoneyIntent(intent(), slow).catch((e: unknown) => e);
    await check.reached; // it holds the key, in its check
    clock.now += LOCK_MS + 1;
    const sending = pausePoint();
    const op = vendor.operation();
    const second = runMoneyIntent(intent(), {
      ...op,
      prepare: async () => {
        const p = await op.prepare();
        return {
          ...p,
          send: async () => {
            // Holds the call open until the first holder has given up (and freed what it could).
            await sending.wait();
            return p.send();
          },
        };
      },
    });
    await sending.reached;
    check.letGo();
    expect(await first).toBeInstanceOf(Error);
    sending.letGo();
    expect(released).toBe(0);
    expect(await second).toMatchObject({ outcome: "applied" });
    expect(await register.idempotency.find("panel", key)).toMatchObject({ status: "completed" });
    expect(vendor.sends).toBe(1);
  });

  it("never sends beside the holder that took it over, even when its own check passes late", async () => {
    const { intent, vendor, clock, key } = setup();
    const check = pausePoint();
    const op = vendor.operation();
    // The first holder's check passes, but only after its lock has run out and a retry took the key.
    const slow = {
      ...op,
      prepare: async () => {
        await check.wait();
        return op.prepare();
      },
    };
    const first = runMoneyIntent(intent(), slow).catch((e: unknown) => e);
    await check.reached; // it holds the key, in its check
    clock.now += LOCK_MS + 1;
    const second = await runMoneyIntent(intent(), vendor.operation());
    expect(second).toMatchObject({ outcome: "applied" });
    check.letGo();
    expect(await first).toBeInstanceOf(Error);
    expect(vendor.sends).toBe(1);
    expect(await register.idempotency.find("panel", key)).toMatchObject({ status: "completed" });
  });
});

describe("a key others claim and free around this claim", () => {
  // Same-key requests refused before sending, one after the other, can free the key each time this
  // claim has lost its write and before it reads: a busy key, never a bug (it answered 500 before).
  it("is in progress (retry with the same key), with nothing claimed or sent", async () => {
    const { intent, vendor } = setup();
    const store: IdempotencyStore = {
      ...register.idempotency,
      claim: () => Promise.reject(new KeyContendedError("the key is changing too fast")),
    };
    const error = await runMoneyIntent(intent(store), vendor.operation()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestInProgressError);
    expect(error).toMatchObject({ code: "request_in_progress", retryAfterSeconds: 1 });
    expect(vendor.sends).toBe(0);
  });
});
