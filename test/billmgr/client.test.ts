import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type BillingClient,
  BillmgrTimeoutError,
  BillmgrUnavailableError,
  BillmgrVendorError,
  type OrderRequest,
} from "../../shared/adapters/billmgr/index.ts";
import type { CallEvent } from "../../shared/adapters/billmgr/transport.ts";
import type { CredentialsProvider } from "../../shared/domain/ports/credentials.ts";
import { expectNoSecret, VENDOR_PASSWORD } from "../support/secrets.ts";
import { type VendorSandbox, vendorSandbox } from "../support/vendor.ts";

let vendor: VendorSandbox;
let client: BillingClient;
let nextIp = 10;
/** A fresh IP per order, so tests do not collide on the vendor's one-licence-per-IP rule. */
const ip = () => `82.156.37.${nextIp++}`;
const lite = (overrides: Partial<OrderRequest> = {}): OrderRequest => ({
  ip: ip(),
  name: "web-1",
  pricelist: "3541",
  period: 1,
  autoprolong: null,
  ...overrides,
});

/** Every error a test saw; none may carry the password. */
const seenErrors: unknown[] = [];
async function failure(promise: Promise<unknown>): Promise<unknown> {
  const error = await promise.then(
    () => new Error("expected the call to fail"),
    (e: unknown) => e,
  );
  seenErrors.push(error);
  return error;
}

beforeAll(async () => {
  vendor = await vendorSandbox({ now: new Date("2021-03-01T10:00:00Z") });
  client = vendor.client();
});
afterAll(async () => {
  for (const error of seenErrors) expectNoSecret(error);
  await vendor.close();
});

describe("the billing client against the sandbox", () => {
  it("orders a licence with skipbasket, finish and sok, and reads it back", async () => {
    const request = lite({ name: "shop" });
    const { id } = await client.order(request);
    expect(id).toMatch(/^\d+$/);
    const details = await client.get(id);
    expect(details).toMatchObject({
      id,
      name: "shop",
      ip: request.ip,
      pricelist: "3541",
      period: 1,
      status: "active",
    });
    expect(details.expiresOn).toBe("2021-04-01");
    expect(details.key).toMatch(/^[0-9a-f]{20}$/);
    const sent = vendor.sandbox.calls.filter((c) => c.func === "soft.order.param").at(-1)?.params;
    expect(sent).toMatchObject({
      skipbasket: "on",
      clicked_button: "finish",
      sok: "ok",
      autoprolong: "null",
    });
  });

  it("orders Business with its nodes as addon_4602", async () => {
    const { id } = await client.order(lite({ pricelist: "4601", addons: { addon_4602: 3 }, period: 12 }));
    const details = await client.get(id);
    expect(details.addons).toEqual({ addon_4602: 3 });
    expect(details.expiresOn).toBe("2022-03-01");
  });

  it("reads the new id when the vendor answers <item.id>", async () => {
    const other = await vendorSandbox({ orderIdShape: "item.id", now: new Date("2021-03-01") });
    try {
      const { id } = await other.client().order(lite());
      expect((await other.client().get(id)).id).toBe(id);
    } finally {
      await other.close();
    }
  });

  it("renews, reading the new expiry from the nested doc, and the balance pays for it", async () => {
    const { id } = await client.order(lite());
    const before = await client.balance();
    await expect(client.prolong(id, 1)).resolves.toEqual({ newExpiry: "2021-05-01" });
    const after = await client.balance();
    expect(before && after && before.minor - after.minor).toBe(600);
    expect(after?.currency).toBe("EUR");
  });

  it("edits the name and keeps the IP, and the other way round", async () => {
    const request = lite({ name: "before" });
    const { id } = await client.order(request);
    await client.edit(id, { name: "after" });
    expect(await client.get(id)).toMatchObject({ name: "after", ip: request.ip });
    const moved = ip();
    await client.edit(id, { ip: moved });
    expect(await client.get(id)).toMatchObject({ name: "after", ip: moved });
  });

  it("regenerates the key", async () => {
    const { id } = await client.order(lite());
    const old = (await client.get(id)).key;
    const { key } = await client.regenerateKey(id);
    expect(key).toMatch(/^[0-9a-f]{20}$/);
    expect(key).not.toBe(old);
    expect((await client.get(id)).key).toBe(key);
  });

  it("suspends, resumes and deletes", async () => {
    const { id } = await client.order(lite());
    await client.suspend(id);
    expect((await client.get(id)).status).toBe("suspended");
    await client.resume(id);
    expect((await client.get(id)).status).toBe("active");
    await client.delete(id);
    expect((await client.list()).rows.find((l) => l.id === id)?.status).toBe("deleted");
  });

  it("checks an IP: free, taken, or refused as a value", async () => {
    const taken = lite();
    await client.order(taken);
    await expect(client.checkIp({ ip: ip(), pricelist: "3541", period: 1 })).resolves.toEqual({
      available: true,
    });
    await expect(client.checkIp({ ip: taken.ip, pricelist: "3541", period: 1 })).resolves.toMatchObject({
      available: false,
      type: "exists",
      object: "ip",
    });
    await expect(client.checkIp({ ip: "999.1.1.1", pricelist: "3541", period: 1 })).resolves.toMatchObject({
      available: false,
      type: "value",
      object: "ip",
    });
  });

  it("lists every page and skips the empty elems", async () => {
    const paged = await vendorSandbox({ now: new Date("2021-03-01") });
    try {
      const small = paged.client({ BILLMGR_PAGE_SIZE: "2" });
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await small.order(lite({ name: `n${i}` }))).id);
      const listed = await small.list();
      expect(listed).toMatchObject({ complete: true });
      expect(listed.rows.map((l) => l.id)).toEqual(ids);
      // Five licences, two a page, p_elems on each: the third page reaches the count.
      expect(paged.calls("soft")).toBe(3);
    } finally {
      await paged.close();
    }
  });

  it("reads the balance from dashboard.info or from subaccount", async () => {
    const dashboard = await client.balance();
    const subaccount = await vendor.client({ BILLMGR_BALANCE_FUNC: "subaccount" }).balance();
    expect(dashboard?.minor).toBeGreaterThan(0);
    expect(subaccount).toMatchObject({ minor: dashboard?.minor, currency: "EUR" });
  });

  it("speaks out=json as well", async () => {
    const json = vendor.client({ BILLMGR_FORMAT: "json" });
    const { id } = await json.order(lite({ name: "via json" }));
    expect(await json.get(id)).toMatchObject({ id, name: "via json", status: "active" });
    const listed = await json.list();
    expect(listed.complete).toBe(true);
    expect(listed.rows.some((l) => l.id === id)).toBe(true);
    const error = await failure(json.get("999999999"));
    expect(error).toMatchObject({ kind: "vendor", type: "missed", object: "elid" });
  });

  it("sends a hostile name as one literal value: no parameter is added or overridden", async () => {
    const name = "x&func=soft.delete&elid=1&authinfo=a:b&out=json";
    const { id } = await client.order(lite({ name }));
    expect((await client.get(id)).name).toBe(name);
    await client.edit(id, { name: `${name}#2` });
    expect((await client.get(id)).name).toBe(`${name}#2`);
    expect(vendor.calls("soft.delete")).toBe(1); // only the explicit delete test above
  });

  it("refuses ids that are not digits before anything is sent", async () => {
    const before = vendor.sandbox.calls.length;
    await expect(client.get("1&func=soft.delete")).rejects.toThrow(TypeError);
    await expect(client.suspend("")).rejects.toThrow(TypeError);
    expect(vendor.sandbox.calls.length).toBe(before);
  });
});

describe("vendor errors become typed errors", () => {
  it("bad credentials: auth, and the password appears nowhere", async () => {
    const wrong = vendor.client({ BILLMGR_CREDENTIALS: `reseller:${VENDOR_PASSWORD}-wrong` });
    const error = await failure(wrong.list());
    expect(error).toBeInstanceOf(BillmgrVendorError);
    expect(error).toMatchObject({ type: "auth", object: "badpassword", func: "soft" });
    expectNoSecret(error);
  });

  it("unknown id: missed", async () => {
    expect(await failure(client.prolong("999999999", 1))).toMatchObject({ type: "missed", object: "elid" });
  });

  it("bad value: value, naming the field", async () => {
    expect(await failure(client.order(lite({ ip: "999.1.1.1" })))).toMatchObject({
      type: "value",
      object: "ip",
    });
  });

  it("IP already licensed: exists", async () => {
    const taken = lite();
    await client.order(taken);
    expect(await failure(client.order(lite({ ip: taken.ip })))).toMatchObject({
      type: "exists",
      object: "ip",
    });
  });

  it("insufficient balance: refused, nothing charged", async () => {
    const poor = await vendorSandbox({ now: new Date("2021-03-01"), balanceMinor: 100 });
    try {
      const error = await failure(poor.client().order(lite()));
      expect(error).toMatchObject({ kind: "vendor", type: "balance", outcome: "not_applied" });
      expect((await poor.client().balance())?.minor).toBe(100);
      expect(await poor.client().list()).toEqual({ rows: [], complete: true });
    } finally {
      await poor.close();
    }
  });

  it("a rotated password is picked up once, and the call goes through", async () => {
    let current = `reseller:${VENDOR_PASSWORD}-old`;
    let refreshed = 0;
    const rotating: CredentialsProvider = {
      get: async () => {
        const [user = "", password = ""] = [current.slice(0, 8), current.slice(9)];
        return { user, password };
      },
      refresh: () => {
        refreshed++;
        current = `reseller:${VENDOR_PASSWORD}`;
      },
    };
    const before = vendor.calls("soft");
    await expect(vendor.client({}, { credentials: rotating }).list()).resolves.toMatchObject({
      complete: true,
    });
    expect(refreshed).toBe(1);
    expect(vendor.calls("soft") - before).toBe(2);
  });
});

describe("faults", () => {
  const fast = () => vendor.client({ BILLMGR_TIMEOUT_MS: "300", BILLMGR_RETRIES: "2" });
  beforeEach(() => vendor.sandbox.faults.clear());

  it.each(["http500", "html", "malformed", "drop"] as const)(
    "a read retries after %s and succeeds",
    async (kind) => {
      await vendor.fault("soft.checkip", kind, 2);
      const before = vendor.calls("soft.checkip");
      await expect(fast().checkIp({ ip: ip(), pricelist: "3541", period: 1 })).resolves.toEqual({
        available: true,
      });
      expect(vendor.calls("soft.checkip") - before).toBe(3);
    },
  );

  it("a read gives up after its retries with a typed timeout", async () => {
    await vendor.fault("soft", "timeout", 5);
    const before = vendor.calls("soft");
    const error = await failure(fast().list());
    expect(error).toBeInstanceOf(BillmgrTimeoutError);
    expect(vendor.calls("soft") - before).toBe(3);
  });

  it.each(["http500", "html", "malformed", "drop"] as const)(
    "a read that keeps getting %s is unavailable",
    async (kind) => {
      await vendor.fault("soft.edit", kind, 3);
      const error = await failure(fast().get("2512171"));
      expect(error).toBeInstanceOf(BillmgrUnavailableError);
    },
  );

  it("a slow answer inside the timeout is a success", async () => {
    await vendor.fault("soft", "slow", 1, 100);
    await expect(fast().list()).resolves.toMatchObject({ complete: true });
  });

  it.each([
    ["timeout", BillmgrTimeoutError],
    ["drop", BillmgrUnavailableError],
    ["http500", BillmgrUnavailableError],
    ["html", BillmgrUnavailableError],
    ["malformed", BillmgrUnavailableError],
  ] as const)("an order that meets %s is sent once and its outcome is unknown", async (kind, type) => {
    await vendor.fault("soft.order.param", kind, 5);
    const before = vendor.calls("soft.order.param");
    const error = await failure(fast().order(lite()));
    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject({ outcome: "unknown" });
    expect(vendor.calls("soft.order.param") - before).toBe(1);
  });

  it.each(["act-then-hang", "act-then-drop"] as const)(
    "an order the vendor carried out before it went silent (%s): sent once, unknown, and it exists",
    async (kind) => {
      await vendor.fault("soft.order.param", kind, 5);
      const request = lite({ name: `ghost-${kind}` });
      const before = vendor.calls("soft.order.param");
      const error = await failure(fast().order(request));
      expect(error).toMatchObject({ outcome: "unknown" });
      expect(vendor.calls("soft.order.param") - before).toBe(1);
      const found = (await client.list()).rows.filter((l) => l.name === request.name && l.ip === request.ip);
      expect(found).toHaveLength(1);
    },
  );

  it.each(["act-then-hang", "http500"] as const)(
    "a renewal that meets %s is sent once, outcome unknown",
    async (kind) => {
      const { id } = await client.order(lite());
      await vendor.fault("service.prolong", kind, 5);
      const before = vendor.calls("service.prolong");
      expect(await failure(fast().prolong(id, 1))).toMatchObject({ outcome: "unknown" });
      expect(vendor.calls("service.prolong") - before).toBe(1);
    },
  );

  it("licence changes are not retried either", async () => {
    const { id } = await client.order(lite());
    await vendor.fault("soft.suspend", "http500", 5);
    const before = vendor.calls("soft.suspend");
    expect(await failure(fast().suspend(id))).toBeInstanceOf(BillmgrUnavailableError);
    expect(vendor.calls("soft.suspend") - before).toBe(1);
  });

  it("a vendor that refuses connections: unavailable, and the order was certainly not placed", async () => {
    const closed = await vendorSandbox();
    const url = closed.sandbox.url;
    await closed.close();
    const error = await failure(vendor.client({ BILLMGR_URL: url, BILLMGR_RETRIES: "0" }).order(lite()));
    expect(error).toMatchObject({ kind: "unavailable", outcome: "not_applied" });
  });

  it("reports every attempt without parameters or credentials", async () => {
    const events: CallEvent[] = [];
    await vendor.fault("soft", "http500", 1);
    await vendor.client({ BILLMGR_TIMEOUT_MS: "300" }, { onCall: (e) => events.push(e) }).list();
    expect(events.map((e) => [e.func, e.attempt, e.result])).toEqual([
      ["soft", 1, "unavailable"],
      ["soft", 2, "ok"],
    ]);
    expectNoSecret(events);
  });
});
