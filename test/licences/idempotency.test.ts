import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  BillmgrTimeoutError,
  BillmgrUnavailableError,
  BillmgrVendorError,
} from "../../shared/billmgr/errors.ts";
import {
  IdempotencyKeyReusedError,
  OutcomeUnknownError,
  RequestInProgressError,
} from "../../shared/licences/errors.ts";
import { type MoneyCall, onceOnly, requestHash } from "../../shared/licences/idempotency.ts";
import { createDynamoRegister } from "../../shared/register/dynamodb.ts";
import type { Register } from "../../shared/register/types.ts";
import { dynamoClient, freshTable } from "../support/dynamodb.ts";

/** The once-only rule for money-moving calls, on DynamoDB Local, with every way the first request can end. */
let register: Register;
const client = dynamoClient(inject("dynamodbEndpoint"));
beforeAll(async () => {
  register = createDynamoRegister({ client, tableName: await freshTable(client, "once") });
});
afterAll(() => client.destroy());

const NOW = Date.parse("2021-05-01T00:00:00Z");
const call = (key: string, request: unknown = { body: 1 }, nowMs = NOW): MoneyCall => ({
  operation: "order",
  store: register.idempotency,
  settings: { ttlSeconds: 48 * 3600, lockMs: 60_000 },
  scope: "client-a",
  key,
  request,
  context: {},
  nowMs,
});
const ok = { statusCode: 201, body: { id: "1" } };
const never = async (): Promise<never> => {
  throw new Error("must not run");
};

describe("onceOnly", () => {
  it("runs once, then replays the stored answer", async () => {
    let runs = 0;
    const run = async () => {
      runs++;
      return ok;
    };
    expect(await onceOnly(call("k1"), run, never)).toEqual({ ...ok, replayed: false });
    expect(await onceOnly(call("k1"), run, never)).toEqual({ ...ok, replayed: true });
    expect(runs).toBe(1);
  });

  it("refuses the key for another request, and while the first runs", async () => {
    let release: () => void = () => {};
    const first = onceOnly(
      call("k2"),
      () =>
        new Promise((resolve) => {
          release = () => resolve(ok);
        }),
      never,
    );
    await new Promise((r) => setTimeout(r, 50));
    await expect(onceOnly(call("k2"), never, never)).rejects.toBeInstanceOf(RequestInProgressError);
    await expect(onceOnly(call("k2", { body: 2 }), never, never)).rejects.toBeInstanceOf(
      IdempotencyKeyReusedError,
    );
    release();
    await first;
  });

  it("releases the key when nothing was sent, or the vendor refused", async () => {
    await expect(
      onceOnly(
        call("k3"),
        async () => {
          throw new Error("validation before sending");
        },
        never,
      ),
    ).rejects.toThrow("validation before sending");
    await expect(
      onceOnly(
        call("k3"),
        async (guard) => {
          guard.sent = true;
          throw new BillmgrVendorError("soft.order.param", "balance", "account", "Insufficient funds");
        },
        never,
      ),
    ).rejects.toBeInstanceOf(BillmgrVendorError);
    await expect(
      onceOnly(
        call("k3"),
        async (guard) => {
          guard.sent = true;
          throw new BillmgrUnavailableError("soft.order.param", "ECONNREFUSED", "not_applied");
        },
        never,
      ),
    ).rejects.toBeInstanceOf(BillmgrUnavailableError);
    expect(await onceOnly(call("k3"), async () => ok, never)).toMatchObject({ replayed: false });
  });

  it.each([
    ["a vendor timeout", new BillmgrTimeoutError("soft.order.param", 400, "unknown")],
    ["a register failure after the vendor acted", new Error("DynamoDB throttled")],
  ])("keeps the key after %s, and the retry reconciles instead of running again", async (_, failure) => {
    const key = `k4-${failure.message}`;
    await expect(
      onceOnly(
        call(key),
        async (guard) => {
          guard.sent = true;
          throw failure;
        },
        never,
      ),
    ).rejects.toBeInstanceOf(OutcomeUnknownError);
    const reconciled = await onceOnly(call(key), never, async () => ok);
    expect(reconciled).toEqual({ ...ok, replayed: true });
    expect(await onceOnly(call(key), never, never)).toEqual({ ...ok, replayed: true });
  });

  it("a first request that died holding the key is reconciled once its lock has passed", async () => {
    await register.idempotency.claim(
      {
        scope: "client-a",
        key: "k5",
        requestHash: requestHash({ body: 1 }),
        context: { expiryBefore: "2021-06-01" },
        lockedUntil: NOW + 1000,
        expiresAt: NOW / 1000 + 3600,
      },
      NOW,
    );
    await expect(onceOnly(call("k5"), never, never)).rejects.toBeInstanceOf(RequestInProgressError);
    let seen: Record<string, string> = {};
    const later = await onceOnly(call("k5", { body: 1 }, NOW + 2000), never, async (context) => {
      seen = context;
      return ok;
    });
    expect(later).toMatchObject({ statusCode: 201, replayed: true });
    expect(seen).toEqual({ expiryBefore: "2021-06-01" });
  });

  it("keys are per client", async () => {
    await onceOnly(call("shared-key"), async () => ok, never);
    const other = { ...call("shared-key", { body: 9 }), scope: "client-b" };
    expect(await onceOnly(other, async () => ({ statusCode: 201, body: { id: "2" } }), never)).toMatchObject({
      body: { id: "2" },
      replayed: false,
    });
  });
});
